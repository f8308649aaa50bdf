"""The reference portal server bounded as a server facing strangers: a request log of bounded size,
request lines logged with their control characters escaped, silent connections closed, and a
token taken from the environment only. Real sockets on loopback."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import requests

from pipelines.synthetic.portal_server import main, make_server

TOKEN = "server-test-token"


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "child_measurements").mkdir()
    (tmp_path / "child_measurements" / "36.01.01.2001_2024-08.csv").write_bytes(b"No,NIK\n1,x\n")
    return tmp_path


def test_the_request_log_keeps_the_latest_requests_only(data_dir):
    server = make_server(data_dir, token=TOKEN, log_size=5).start_in_thread()
    try:
        with requests.Session() as s:
            for n in range(8):
                s.get(f"{server.base_url}/api/v1/nothing-{n}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
    finally:
        server.stop()
    assert [path for _, path, _ in server.request_log] == [f"/api/v1/nothing-{n}" for n in range(3, 8)]


def test_control_characters_in_a_request_line_are_escaped_in_the_log(data_dir, caplog):
    caplog.set_level(logging.INFO, logger="pipelines.synthetic.portal_server")
    server = make_server(data_dir, token=TOKEN).start_in_thread()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
            # ESC sequences would recolour or clear an operator's terminal; NEL (0x85) and DEL too
            sock.sendall(b"GET /api/v1/\x1b[2J\x1b]0;owned\x07\x7f\x85x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 40")
    finally:
        server.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "pipelines.synthetic.portal_server"]
    assert any("\\x1b[2J\\x1b]0;owned\\x07\\x7f\\x85x" in line for line in lines), lines
    assert not any(ch in line for line in lines for ch in "\x1b\x07\x7f\x85")


def test_a_silent_connection_is_closed_after_the_timeout(data_dir):
    server = make_server(data_dir, token=TOKEN, connection_timeout=0.5).start_in_thread()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /api/v1/hea")  # and then nothing: a slowloris client
            assert sock.recv(4096) == b""  # the server hung up
            assert time.monotonic() - started < 3
        assert requests.get(f"{server.base_url}/api/v1/health", timeout=2).ok  # and still serves others
    finally:
        server.stop()


def test_the_token_is_not_taken_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KONVERGENSI_PORTAL_TOKEN", "env-token")
    with pytest.raises(SystemExit) as info:
        main(["--data", str(tmp_path / "missing"), "--port", "0", "--token", "argv-s3cret"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "KONVERGENSI_PORTAL_TOKEN" in err and "argv-s3cret" not in err
