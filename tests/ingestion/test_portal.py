"""Portal contract, reference server and client, over real loopback HTTP."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import time
from pathlib import Path

import pytest
import requests
import yaml

from pipelines.ingestion.identity import parse_submission_name, submission_id
from pipelines.ingestion.portal import PortalAuthError, PortalClient, PortalError, PortalUnavailableError
from pipelines.synthetic.portal_server import FAULT_KINDS, FaultPlan, make_server
from tests.paths import ROOT_DIR

TOKEN = "s3cret-test-token-9f2c"
OPENAPI = ROOT_DIR / "pipelines" / "ingestion" / "openapi.yaml"
BASE_NS = 1_700_000_000 * 10**9

# (stream, file name, bytes, mtime offset in seconds); two files share an mtime to exercise the
# submission_id tie-break, and one name breaks the convention.
FILES = [
    ("child_measurements", "36.01.01.2001_2024-01.csv", b"No,NIK\n1,x\n", 0),
    ("child_measurements", "36.01.01.2002_2024-02_revisi.csv", b"No,NIK\n2,y\n", 10),
    ("child_measurements", "laporan januari.csv", b"No,NIK\n3,z\n", 10),
    ("households", "36.02.01.2001_2024.json", b'[{"a": 1}]', 20),
    ("village_scorecard", "36.71.01.1001_2024-Q1.xlsx", b"PK\x03\x04 not really xlsx", 30),
    ("aksi_reports", "36.01_2024.csv", b"aksi,tahun\n1,2024\n", 40),
    ("opd_programmes", "DINKES_2024-Q2.json", b'{"programme": "PMT"}', 50),
]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    root = tmp_path / "portal"
    for stream, name, content, offset in FILES:
        path = root / stream / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, ns=(BASE_NS + offset * 10**9, BASE_NS + offset * 10**9))
    (root / "child_measurements" / ".36.01.01.2003_2024-03.csv.part").write_bytes(b"uploading")
    return root


def _start(data_dir: Path, faults: FaultPlan | None = None):
    return make_server(data_dir, port=0, token=TOKEN, faults=faults).start_in_thread()


@pytest.fixture
def server(data_dir: Path):
    srv = _start(data_dir)
    yield srv
    srv.stop()


def _client(srv, **kw) -> PortalClient:
    opts = {
        "timeout": (1.0, 2.0),
        "max_retries": 5,
        "backoff_factor": 0.01,
        "max_backoff": 0.05,
        "total_deadline_s": 10.0,
    }
    opts.update(kw)
    return PortalClient(srv.base_url, TOKEN, **opts)


def _full_sync(client: PortalClient) -> tuple[list[dict], dict[str, bytes]]:
    items = list(client.list_submissions(page_size=2))
    return items, {item["submission_id"]: client.download(item) for item in items}


def _list_requests(srv) -> list:
    return [r for r in srv.request_log if r[1] == "/api/v1/submissions"]


def test_health_needs_no_token(server):
    resp = requests.get(f"{server.base_url}/api/v1/health", timeout=2)
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_listing_pages_return_every_item_exactly_once(server):
    with _client(server) as client:
        items = list(client.list_submissions(page_size=2))
    ids = [i["submission_id"] for i in items]
    assert len(ids) == len(FILES) == len(set(ids))  # the .part upload is not listed
    assert sorted(i["file_name"] for i in items) == sorted(f[1] for f in FILES)
    assert [(i["updated_at"], i["submission_id"]) for i in items] == sorted(
        (i["updated_at"], i["submission_id"]) for i in items
    )
    assert len(_list_requests(server)) == 4  # 7 items, 2 per page


def test_items_follow_the_naming_convention_and_ids(server):
    with _client(server) as client:
        items = {i["file_name"]: i for i in client.list_submissions()}
    for stream, name, content, offset in FILES:
        item = items[name]
        assert item["stream"] == stream
        assert item["sha256"] == hashlib.sha256(content).hexdigest()
        assert item["size_bytes"] == len(content)
        assert item["updated_at"] == time.strftime(
            "%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(BASE_NS // 10**9 + offset)
        )
        if name.startswith("laporan"):
            assert item["submitter_code"] is None and item["period"] is None
            assert "laporan januari.csv" in item["name_error"]
            digest = hashlib.sha256(f"{stream}|{name}|{item['sha256']}".encode()).hexdigest()
            assert item["submission_id"] == f"chi-x{digest[:19]}"
            continue
        key = parse_submission_name(stream, name)
        assert item["name_error"] is None
        assert (item["submitter_code"], item["period"], item["file_format"]) == (
            key.submitter_code,
            key.period,
            key.file_format,
        )
        assert item["submission_id"] == submission_id(stream, key.submitter_code, key.period, item["sha256"])


def test_items_validate_against_the_openapi_contract(server):
    jsonschema = pytest.importorskip("jsonschema")
    spec = yaml.safe_load(OPENAPI.read_text())
    assert spec["openapi"].startswith("3.1")
    schemas = spec["components"]["schemas"]
    item_schema = dict(schemas["Submission"])
    item_schema["properties"] = {**item_schema["properties"], "stream": schemas["Stream"]}
    item_schema["additionalProperties"] = False
    validator = jsonschema.Draft202012Validator(item_schema)
    with _client(server) as client:
        items = list(client.list_submissions())
        items.append(client.get_submission(items[0]["submission_id"]))
    for item in items:
        validator.validate(item)


def test_updated_since_is_exclusive_and_stream_filters(server):
    with _client(server) as client:
        everything = list(client.list_submissions())
        pivot = everything[2]["updated_at"]
        later = list(client.list_submissions(updated_since=pivot, page_size=2))
        child = list(client.list_submissions(stream="child_measurements"))
    assert later == [i for i in everything if i["updated_at"] > pivot]
    assert 0 < len(later) < len(everything)
    assert {i["file_name"] for i in child} == {f[1] for f in FILES if f[0] == "child_measurements"}


def test_download_matches_bytes_sha_and_headers(server):
    with _client(server) as client:
        items, blobs = _full_sync(client)
    by_name = {f[1]: f[2] for f in FILES}
    for item in items:
        assert blobs[item["submission_id"]] == by_name[item["file_name"]]
    xlsx = next(i for i in items if i["file_format"] == "xlsx")
    resp = requests.get(
        server.base_url + xlsx["download_url"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2
    )
    assert resp.headers["X-Content-SHA256"] == xlsx["sha256"]
    assert resp.headers["ETag"] == f'"{xlsx["sha256"]}"'
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert int(resp.headers["Content-Length"]) == xlsx["size_bytes"]


def test_listing_sees_files_changed_after_start(server, data_dir):
    with _client(server) as client:
        before = {i["file_name"]: i for i in client.list_submissions()}
        path = data_dir / "aksi_reports" / "36.01_2024.csv"
        path.write_bytes(b"aksi,tahun\n2,2024\n")
        os.utime(path, ns=(BASE_NS + 99 * 10**9, BASE_NS + 99 * 10**9))
        after = {i["file_name"]: i for i in client.list_submissions()}
        newer = list(client.list_submissions(updated_since=before["DINKES_2024-Q2.json"]["updated_at"]))
    changed = after["36.01_2024.csv"]
    assert changed["sha256"] == hashlib.sha256(b"aksi,tahun\n2,2024\n").hexdigest()
    assert changed["submission_id"] != before["36.01_2024.csv"]["submission_id"]
    assert [i["file_name"] for i in newer] == ["36.01_2024.csv"]


def test_wrong_token_fails_at_once_without_retry(server, caplog):
    caplog.set_level(logging.DEBUG)
    client = PortalClient(server.base_url, "wrong-token-abc", timeout=(1.0, 2.0))
    with pytest.raises(PortalAuthError) as info:
        list(client.list_submissions())
    assert "rejected the token" in str(info.value)
    assert "wrong-token-abc" not in str(info.value)
    assert len(_list_requests(server)) == 1
    raw = requests.get(f"{server.base_url}/api/v1/submissions", timeout=2)
    assert raw.status_code == 401 and raw.json()["error"] == "unauthorized"
    with _client(server) as good:
        _full_sync(good)
    assert TOKEN not in caplog.text and "wrong-token-abc" not in caplog.text


# Seeds chosen so that, between them, every fault kind but "corrupt" fires during the run
# (corrupt has its own test below).
@pytest.mark.parametrize("seed", [1, 9, 11])
def test_faulty_portal_gives_the_same_result_as_a_clean_one(data_dir, server, seed):
    with _client(server) as client:
        clean_items, clean_blobs = _full_sync(client)
    plan = FaultPlan(rate=0.2, seed=seed, kinds=FAULT_KINDS, retry_after="0", slow_s=0.6)
    faulty = _start(data_dir, plan)
    try:
        with _client(faulty, timeout=(0.5, 0.25)) as client:
            items, blobs = _full_sync(client)
    finally:
        faulty.stop()
    assert items == clean_items
    assert blobs == clean_blobs
    assert len(faulty.fault_log) >= 4, faulty.fault_log  # the run really went through faults


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_kind_is_survived(data_dir, server, kind):
    with _client(server) as client:
        clean = _full_sync(client)
    plan = FaultPlan(rate=0.5, seed=3, kinds=(kind,), retry_after="0", slow_s=0.6)
    faulty = _start(data_dir, plan)
    try:
        with _client(faulty, timeout=(0.5, 0.25), body_attempts=6) as client:
            assert _full_sync(client) == clean
    finally:
        faulty.stop()
    assert kind in faulty.fault_log


@pytest.mark.parametrize(("kind", "expected_requests"), [("503", 3), ("bad_json", 2), ("truncate", 2)])
def test_persistent_fault_stops_after_bounded_attempts(data_dir, kind, expected_requests):
    faulty = _start(data_dir, FaultPlan(rate=1.0, kinds=(kind,), retry_after="0"))
    try:
        client = _client(faulty, max_retries=2, body_attempts=2)
        with pytest.raises(PortalUnavailableError) as info:
            list(client.list_submissions())
    finally:
        faulty.stop()
    assert "/api/v1/submissions" in str(info.value)
    assert len(_list_requests(faulty)) == expected_requests


def test_portal_down_raises_unavailable_within_deadline():
    with socket.socket() as sock:  # grab a free port, then close it so nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Backoff this large would sleep for minutes; the deadline must cut it short.
    client = PortalClient(
        f"http://127.0.0.1:{port}",
        TOKEN,
        timeout=(0.5, 0.5),
        max_retries=8,
        backoff_factor=5.0,
        max_backoff=60,
        total_deadline_s=1.5,
    )
    started = time.monotonic()
    with pytest.raises(PortalUnavailableError) as info:
        list(client.list_submissions())
    assert time.monotonic() - started < 10
    assert "GET /api/v1/submissions" in str(info.value)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/submissions/../../x",
        "/api/v1/submissions/../../x/file",
        "/api/v1/submissions/..%2F..%2Fx",
        "/api/v1/submissions/..%2F..%2Fx/file",
        "/api/v1/submissions/%2e%2e%2f%2e%2e%2fportal%2fchild_measurements/file",
    ],
)
def test_path_traversal_is_refused(server, path):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
    try:
        # http.client sends the path verbatim; requests/urllib3 would normalise the dot segments away.
        conn.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    assert resp.status in (400, 404)
    assert b"No,NIK" not in body


def test_client_quotes_ids_and_reports_bad_requests(server):
    with _client(server) as client, pytest.raises(PortalError, match="HTTP 400"):
        client.get_submission("../../x")


def test_cli_requires_a_token(data_dir, monkeypatch, capsys):
    from pipelines.synthetic.portal_server import main

    monkeypatch.delenv("KONVERGENSI_PORTAL_TOKEN", raising=False)
    with pytest.raises(SystemExit) as info:
        main(["--data", str(data_dir), "--port", "0"])
    assert info.value.code == 2
    assert "token is required" in capsys.readouterr().err


def test_a_badly_named_file_is_listed_with_the_fields_of_its_upload_form(data_dir):
    """The form's fields (kept beside the file) give submitter and period; the fields file is not a
    submission; invalid fields are ignored; the item still meets the contract."""
    jsonschema = pytest.importorskip("jsonschema")
    form = data_dir / "child_measurements" / "laporan januari.csv.meta.json"
    form.write_text('{"submitter_code": "36.01.01", "period": "2024-01"}')
    os.utime(form, ns=(BASE_NS + 99 * 10**9, BASE_NS + 99 * 10**9))
    (data_dir / "households" / "P3KE desa.csv").write_bytes(b"Kode Kemendagri\n36.02.01.2001\n")
    (data_dir / "households" / "P3KE desa.csv.meta.json").write_text('{"submitter_code": "DINKES", "period": "x"}')
    srv = _start(data_dir)
    try:
        with _client(srv) as client:
            items = {i["file_name"]: i for i in client.list_submissions()}
    finally:
        srv.stop()
    assert not any(name.endswith(".meta.json") for name in items)
    told, ignored = items["laporan januari.csv"], items["P3KE desa.csv"]
    assert (told["submitter_level"], told["submitter_code"], told["period"]) == ("district", "36.01.01", "2024-01")
    assert told["submission_id"] == submission_id("child_measurements", "36.01.01", "2024-01", told["sha256"])
    assert "laporan januari.csv" in told["name_error"]  # the name still does not say it
    assert told["updated_at"] == time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(BASE_NS // 10**9 + 99))
    assert (ignored["submitter_code"], ignored["period"], ignored["submitter_level"]) == (None, None, "village")
    spec = yaml.safe_load(OPENAPI.read_text())
    schemas = spec["components"]["schemas"]
    schema = {**schemas["Submission"], "properties": {**schemas["Submission"]["properties"],
                                                      "stream": schemas["Stream"]}}
    for item in (told, ignored):
        jsonschema.Draft202012Validator(schema).validate(item)
