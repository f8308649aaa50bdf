"""Bounded portal inputs, over real loopback HTTP: the size cap (by listing, by Content-Length, by a
body running past what was announced), the deadline held while a body trickles in, pagination that
does not end, and a refused submission recorded without losing any other.

The misbehaving portals are a tiny ``http.server`` started here (the reference server does not lie
about sizes nor trickle); the well-behaved one is the reference server.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest

from pipelines.ingestion.incoming import portal_incoming
from pipelines.ingestion.land import land_submissions
from pipelines.ingestion.portal import (
    PortalClient,
    PortalPaginationError,
    PortalTooLargeError,
    PortalUnavailableError,
)
from pipelines.synthetic.portal_server import make_server
from tests.ingestion.toy_parser import toy_parse

TOKEN = "bounds-test-token"
BASE_NS = 1_700_000_000 * 10**9
SMALL = b"36.01.01.2001\n2\n"
BIG = b"36.01.01.2002\n" + b"3\n" * 1000  # 2,014 bytes


def _item(sid: str, content: bytes, size: int | None = None) -> dict:
    return {"submission_id": sid, "stream": "child_measurements", "file_name": f"36.01.01.2001_2024-0{sid[-1]}.csv",
            "sha256": hashlib.sha256(content).hexdigest(), "size_bytes": len(content) if size is None else size,
            "updated_at": "2024-09-01T00:00:00.000000Z", "download_url": f"/api/v1/submissions/{sid}/file"}


class Rogue(ThreadingHTTPServer):
    """A portal that misbehaves as told: ``routes[path](handler)`` answers each GET."""

    daemon_threads = True

    def __init__(self, routes: dict) -> None:
        super().__init__(("127.0.0.1", 0), _RogueHandler)
        self.routes, self.requests, self.sent = routes, [], 0
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _RogueHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.partition("?")[0]
        self.server.requests.append(path)
        try:
            self.server.routes[path](self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send(self, body: bytes, headers: dict | None = None) -> None:
        self.send_response(200)
        for name, value in (headers or {"Content-Length": str(len(body))}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, payload) -> None:
        self.send(json.dumps(payload).encode(), {"Content-Type": "application/json",
                                                 "Content-Length": str(len(json.dumps(payload).encode()))})


@pytest.fixture
def rogue():
    servers = []

    def start(routes):
        servers.append(Rogue(routes))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def _client(base_url: str, **kw) -> PortalClient:
    opts = {"timeout": (1.0, 1.0), "max_retries": 1, "backoff_factor": 0.01, "max_backoff": 0.05,
            "total_deadline_s": 5.0, "body_attempts": 1}
    return PortalClient(base_url, TOKEN, **{**opts, **kw})


@pytest.fixture
def portal_dir(tmp_path: Path) -> Path:
    root = tmp_path / "portal" / "child_measurements"
    root.mkdir(parents=True)
    for i, (name, content) in enumerate((("36.01.01.2001_2024-08.csv", SMALL), ("36.01.01.2002_2024-08.csv", BIG))):
        (root / name).write_bytes(content)
        os.utime(root / name, ns=(BASE_NS + i * 10**9, BASE_NS + i * 10**9))
    return root.parent


def test_a_submission_listed_over_the_cap_is_not_requested(portal_dir):
    server = make_server(portal_dir, token=TOKEN).start_in_thread()
    try:
        with _client(server.base_url, max_bytes=1000) as client:
            items = {i["file_name"]: i for i in client.list_submissions()}
            with pytest.raises(PortalTooLargeError, match="listed at 2,014 bytes") as info:
                client.download(items["36.01.01.2002_2024-08.csv"])
            assert client.download(items["36.01.01.2001_2024-08.csv"]) == SMALL
    finally:
        server.stop()
    assert info.value.size == len(BIG)
    files = [path for _, path, _ in server.request_log if path.endswith("/file")]
    assert files == [f"/api/v1/submissions/{items['36.01.01.2001_2024-08.csv']['submission_id']}/file"]


def test_a_body_announced_over_the_cap_is_not_read(rogue):
    """The listing says 16 bytes; the file's Content-Length says 50 MB: refused from the headers."""
    item = _item("chi-1", SMALL)

    def huge(h):
        h.send_response(200)
        h.send_header("Content-Length", str(50 * 1024 * 1024))
        h.end_headers()
        for _ in range(50 * 16):
            h.wfile.write(b"x" * 65536)
            h.server.sent += 65536

    server = rogue({"/api/v1/submissions/chi-1/file": huge})
    started = time.monotonic()
    with _client(server.base_url, max_bytes=1024 * 1024) as client, pytest.raises(PortalTooLargeError,
                                                                                   match="Content-Length"):
        client.download(item)
    assert time.monotonic() - started < 2
    time.sleep(0.2)
    assert server.sent < 20 * 1024 * 1024  # what the socket buffers took before the client hung up


def test_a_body_running_past_what_was_announced_is_cut_off(rogue):
    """No Content-Length (chunked), 16 bytes listed, 300 MB sent: reading stops at once."""
    item = _item("chi-2", SMALL)

    def endless(h):
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"x" * 65536
        for _ in range(300 * 16):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.server.sent += len(chunk)
        h.wfile.write(b"0\r\n\r\n")

    server = rogue({"/api/v1/submissions/chi-2/file": endless})
    with _client(server.base_url) as client, pytest.raises(PortalUnavailableError, match="runs past the 16 bytes"):
        client.download(item)
    time.sleep(0.2)
    assert server.sent < 32 * 1024 * 1024


@pytest.mark.parametrize("endpoint", ["file", "listing"])
def test_a_trickling_portal_is_held_to_the_deadline(rogue, endpoint):
    """One byte every 0.1 s: each arrives well within the read timeout, the whole never within the
    deadline. The call gives up at the deadline, not when the body is done (10 s later)."""
    body = json.dumps({"items": [], "next_cursor": None}).encode().ljust(100) if endpoint == "listing" else b"x" * 100
    item = _item("chi-3", body)

    def trickle(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        for b in body:
            h.wfile.write(bytes([b]))
            h.wfile.flush()
            time.sleep(0.1)

    path = "/api/v1/submissions" if endpoint == "listing" else "/api/v1/submissions/chi-3/file"
    server = rogue({path: trickle})
    started = time.monotonic()
    with _client(server.base_url, total_deadline_s=1.5, body_attempts=3) as client, \
            pytest.raises(PortalUnavailableError, match="deadline"):
        list(client.list_submissions()) if endpoint == "listing" else client.download(item)
    assert time.monotonic() - started < 2.5


def test_a_repeated_cursor_stops_the_listing(rogue):
    pages = []

    def same_cursor(h):
        pages.append(h.path)
        # A broken portal: the same cursor every time (it gives up after 50 pages, so that a client
        # without the check ends too, with 50 copies of the item).
        h.send_json({"items": [_item("chi-4", SMALL)], "next_cursor": "c1" if len(pages) < 50 else None})

    server = rogue({"/api/v1/submissions": same_cursor})
    seen = []
    with _client(server.base_url) as client, pytest.raises(PortalPaginationError, match="cursor it had sent before"):
        seen.extend(client.list_submissions())
    assert len(pages) == 2 and len(seen) == 2  # what was listed before is yielded


def test_a_listing_past_the_page_cap_stops(portal_dir):
    for n in range(3, 8):  # 7 files: 4 pages of 2
        (portal_dir / "child_measurements" / f"36.01.01.200{n}_2024-08.csv").write_bytes(b"x%d\n" % n)
    server = make_server(portal_dir, token=TOKEN).start_in_thread()
    try:
        with _client(server.base_url, max_pages=3) as client, pytest.raises(PortalPaginationError, match="3 pages"):
            list(client.list_submissions(page_size=2))
        with _client(server.base_url, max_pages=4) as client:
            assert len(list(client.list_submissions(page_size=2))) == 7
    finally:
        server.stop()
    assert sum(1 for _, path, _ in server.request_log if path == "/api/v1/submissions") == 3 + 4


def test_a_refused_submission_is_recorded_once_and_the_others_land(portal_dir, tmp_path):
    server = make_server(portal_dir, token=TOKEN).start_in_thread()
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        with _client(server.base_url, max_bytes=1000) as client:
            first = land_submissions(con, portal_incoming(client), toy_parse, "run-1")
            second = land_submissions(con, portal_incoming(client), toy_parse, "run-2")
    finally:
        server.stop()
    assert first.landed == 1 and first.rejected_files == 1 and not first.errors
    assert second.landed == second.rejected_files == 0 and second.skipped_known == 2
    refused = con.execute("select file_name, reason_code, transport, run_id from quarantine.rejected_files").fetchall()
    assert refused == [("36.01.01.2002_2024-08.csv", "too_large", "portal", "run-1")]
    rows = con.execute("select file_name, status, size_bytes, n_source_rows, error from raw.submissions "
                       "order by file_name").fetchall()
    assert rows[0][:4] == ("36.01.01.2001_2024-08.csv", "accepted", len(SMALL), 2)
    assert rows[1][:4] == ("36.01.01.2002_2024-08.csv", "rejected_file", len(BIG), 0)
    assert rows[1][4].startswith("too_large: listed at 2,014 bytes")
    files = [path for _, path, _ in server.request_log if path.endswith("/file")]
    assert len(files) == 1  # the small one, once; the big one never

    # with a higher cap, the file refused unread is downloaded and lands
    server = make_server(portal_dir, token=TOKEN).start_in_thread()
    try:
        with _client(server.base_url, max_bytes=10_000) as client:
            third = land_submissions(con, portal_incoming(client), toy_parse, "run-3")
    finally:
        server.stop()
    assert third.landed == 1 and third.skipped_known == 1


def test_what_was_listed_before_the_listing_failed_lands_and_the_failure_is_recorded(rogue, tmp_path):
    from pipelines import tables
    from pipelines.ingestion.pull import pull_submissions
    from pipelines.parsing.pseudonym import Pseudonymiser

    item = _item("chi-5", SMALL)

    def same_cursor(h):
        stream = "stream=child_measurements" in h.path
        h.send_json({"items": [item] if stream else [], "next_cursor": "c1" if stream and h.server.requests.count(
            "/api/v1/submissions") < 50 else None})

    server = rogue({"/api/v1/submissions": same_cursor,
                    "/api/v1/submissions/chi-5/file": lambda h: h.send(SMALL)})
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    tables.ensure_all(con, ["raw.region_master"])  # empty: every row would be refused, beside the point
    with _client(server.base_url) as client:
        run = pull_submissions(con, "run-1", None, Pseudonymiser(b"test-key"), landing_root=None, portal_client=client)
    assert len(run.errors) == 1 and run.errors[0].startswith("portal: ") and "cursor" in run.errors[0]
    landed = con.execute("select file_name, transport from raw.submissions").fetchall()
    assert landed == [(item["file_name"], "portal")]  # refused by the real parser, but recorded
