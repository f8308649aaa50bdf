"""Reference submission portal: serves a landing-style folder over the contract in
``openapi.yaml`` so the pipeline's client can be tested (and demoed) against real HTTP.

The folder is ``DIR/<stream>/<file>``; the listing is rebuilt from disk on every list
request (sha256 cached by path, size and mtime, so a rescan only hashes changed files).
A :class:`FaultPlan` makes the server misbehave on purpose, deterministically per seed,
so client resilience is tested on the wire rather than with patched functions.

Bounded like a server that may face the internet: its request log keeps the latest
``log_size`` entries, every connection times out after ``connection_timeout`` seconds of
silence, logged request lines have their control characters escaped, and the token comes from
the environment only (never the command line, where the process list shows it).
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import hmac
import json
import logging
import os
import random
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote

from pipelines.parsing.layouts import STREAMS
from pipelines.synthetic.portal_catalog import (
    API,
    SUBMISSION_ID_RE,
    Catalog,
    Entry,
    decode_cursor,
    encode_cursor,
    parse_since,
)

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 100
REQUEST_LOG_SIZE = 10_000  # latest requests kept in memory
CONNECTION_TIMEOUT_S = 30.0  # a client silent this long is disconnected
TOKEN_ENV = "KONVERGENSI_PORTAL_TOKEN"
ARGV_TOKEN_REFUSED = (
    f"--token is not accepted: a token on the command line shows in the process list and the shell "
    f"history; set {TOKEN_ENV} instead"
)
# C0 controls, DEL and C1 controls, shown as \xNN: a request line cannot rewrite the terminal or forge log lines.
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}
MAX_LIMIT = 1000
FAULT_KINDS = ("503", "429", "reset", "slow", "truncate", "bad_json", "corrupt")
# Faults that only make sense on one kind of endpoint.
_JSON_ONLY = {"bad_json"}
_FILE_ONLY = {"corrupt"}
CONTENT_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass
class FaultPlan:
    """Which share of requests fail, and how; the same seed and request order give the
    same faults.

    Args:
        rate: probability that a request (other than health) gets a fault.
        seed: seed of the private random generator.
        kinds: subset of :data:`FAULT_KINDS`.
        retry_after: ``Retry-After`` value sent with 429 (``"0"`` keeps tests fast).
        slow_s: how long a ``slow`` response stalls; set it above the client's read timeout.
    """

    rate: float = 0.2
    seed: int = 0
    kinds: tuple[str, ...] = FAULT_KINDS
    retry_after: str = "1"
    slow_s: float = 5.0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be a non-empty subset of {FAULT_KINDS}, got {self.kinds}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {self.rate}")
        self._rng = random.Random(self.seed)

    def draw(self, is_file: bool) -> str | None:
        """Decide the fault for one request to a JSON (``is_file=False``) or file endpoint."""
        excluded = _JSON_ONLY if is_file else _FILE_ONLY
        applicable = [k for k in self.kinds if k not in excluded]
        with self._lock:
            # Always consume the same number of draws so the sequence does not depend on endpoint mix.
            hit = self._rng.random() < self.rate
            pick = self._rng.random()
        if not hit or not applicable:
            return None
        return applicable[int(pick * len(applicable)) % len(applicable)]


class PortalServer(ThreadingHTTPServer):
    """Threaded HTTP server carrying the catalog, token, fault plan and a request log."""

    daemon_threads = True

    def __init__(self, address, catalog: Catalog, token: str, faults: FaultPlan | None,
                 log_size: int = REQUEST_LOG_SIZE, connection_timeout: float = CONNECTION_TIMEOUT_S) -> None:
        super().__init__(address, _Handler)
        self.catalog = catalog
        self.token = token.encode()
        self.faults = faults
        self.connection_timeout = connection_timeout
        # (method, path, status or fault), the latest log_size requests
        self.request_log: deque[tuple[str, str, int | str]] = deque(maxlen=log_size)
        self.fault_log: deque[str] = deque(maxlen=log_size)
        self._log_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.server_address[0]}:{self.port}"

    def record(self, method: str, path: str, outcome: int | str) -> None:
        with self._log_lock:
            self.request_log.append((method, path, outcome))
            if isinstance(outcome, str):
                self.fault_log.append(outcome)

    def start_in_thread(self) -> PortalServer:
        """Serve from a daemon thread; pair with :meth:`stop`."""
        # A short poll keeps stop() quick; the cost is a few idle wake-ups per second.
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="portal-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def handle_error(self, request, client_address) -> None:
        # Clients hanging up mid-response is routine under fault injection; keep stderr quiet.
        log.debug("portal: connection error from %s", client_address[0], exc_info=True)


def make_server(
    data_dir: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str,
    faults: FaultPlan | None = None,
    log_size: int = REQUEST_LOG_SIZE,
    connection_timeout: float = CONNECTION_TIMEOUT_S,
) -> PortalServer:
    """Bind a portal server on ``host:port`` (port 0 picks a free one; read ``server.port``).

    Args:
        data_dir: folder laid out as ``DIR/<stream>/<file>``.
        host: interface to bind; loopback unless told otherwise.
        port: TCP port, 0 for an ephemeral port.
        token: the bearer token every endpoint but health requires.
        faults: optional fault injection plan for tests.
        log_size: requests kept in ``request_log`` (the latest).
        connection_timeout: seconds a connection may stay silent before it is closed.

    Returns:
        The bound, not yet serving, :class:`PortalServer`.
    """
    if not token:
        raise ValueError("portal token must not be empty")
    if not Path(data_dir).is_dir():
        raise FileNotFoundError(f"portal data folder not found: {data_dir}")
    return PortalServer((host, port), Catalog(data_dir), token, faults, log_size, connection_timeout)


class _Handler(BaseHTTPRequestHandler):
    server: PortalServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle plus delayed ACK adds
    # ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "KonvergensiPortal/1"

    def setup(self) -> None:
        self.timeout = self.server.connection_timeout  # applied to the socket by StreamRequestHandler
        super().setup()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        # Only the request line and status reach the log; headers (and the token) never do.
        log.info("portal %s - %s", self.address_string(), (format % args).translate(_ESCAPES))

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        segments = path.split("/")[1:]
        if path == f"{API}/health":
            self.server.record("GET", path, 200)
            return self._json(200, {"status": "ok"})
        if not self._authorised():
            self.server.record("GET", path, 401)
            return self._error(401, "unauthorized", "missing or invalid bearer token")
        if segments[:3] != ["api", "v1", "submissions"] or len(segments) > 5:
            self.server.record("GET", path, 404)
            return self._error(404, "not_found", "no such endpoint")
        is_file = len(segments) == 5
        if is_file and segments[4] != "file":
            self.server.record("GET", path, 404)
            return self._error(404, "not_found", "no such endpoint")
        fault = self.server.faults.draw(is_file) if self.server.faults else None
        if fault:
            self.server.record("GET", path, fault)
        if fault in ("reset", "503", "429"):
            return self._transport_fault(fault)
        if fault == "slow":
            # A correct answer that arrives after the client stopped waiting.
            time.sleep(self.server.faults.slow_s)
            self.close_connection = True
        if len(segments) == 3:
            status, body = self._list(parse_qs(query, keep_blank_values=True))
            if not fault:
                self.server.record("GET", path, status)
            return self._json(status, body, fault)
        entry = self._lookup(unquote(segments[3]))
        if isinstance(entry, tuple):
            self.server.record("GET", path, entry[0])
            return self._error(*entry)
        if not fault:
            self.server.record("GET", path, 200)
        if is_file:
            return self._file(entry, fault)
        return self._json(200, entry.item, fault)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        return hmac.compare_digest(given.strip().encode(), self.server.token)

    def _list(self, params: dict[str, list[str]]) -> tuple[int, dict]:
        one = {k: v[-1] for k, v in params.items()}
        stream = one.get("stream") or None
        if stream is not None and stream not in STREAMS:
            return 400, {"error": "bad_request", "message": f"unknown stream {stream!r}"}
        try:
            limit = int(one.get("limit") or DEFAULT_LIMIT)
            since = parse_since(one["updated_since"]) if one.get("updated_since") else None
            after = decode_cursor(one["cursor"]) if one.get("cursor") else None
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            return 400, {"error": "bad_request", "message": f"invalid query parameter: {exc}"}
        if not 1 <= limit <= MAX_LIMIT:
            return 400, {"error": "bad_request", "message": f"limit must be within 1..{MAX_LIMIT}"}
        rows = [
            e
            for e in self.server.catalog.scan()
            if (stream is None or e.item["stream"] == stream)
            and (since is None or e.micros > since)
            and (after is None or e.key > after)
        ]
        page = rows[:limit]
        next_cursor = encode_cursor(*page[-1].key) if len(rows) > limit else None
        return 200, {"items": [e.item for e in page], "next_cursor": next_cursor}

    def _lookup(self, sid: str) -> Entry | tuple[int, str, str]:
        # Ids are looked up in the catalog, never joined onto a path; the pattern check makes
        # traversal attempts an explicit 400 rather than a silent 404.
        if not SUBMISSION_ID_RE.match(sid):
            return 400, "bad_request", "malformed submission id"
        entry = self.server.catalog.find(sid)
        return entry if entry is not None else (404, "not_found", "no such submission")

    def _transport_fault(self, fault: str) -> None:
        plan = self.server.faults
        if fault == "reset":
            # Linger 0 turns close() into a TCP RST: the client sees a reset, not a clean EOF.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return None
        if fault == "429":
            return self._error(429, "rate_limited", "slow down", {"Retry-After": plan.retry_after})
        return self._error(503, "unavailable", "portal temporarily unavailable")

    def _send(self, status: int, body: bytes, content_type: str, fault: str | None, headers=None) -> None:
        if fault == "corrupt" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if fault == "bad_json":
            body = body[: max(1, len(body) // 2)]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) + (64 if fault == "truncate" else 0)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if fault == "truncate":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _json(self, status: int, payload: dict, fault: str | None = None, headers=None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self._send(status, body, "application/json", fault, headers)

    def _error(self, status: int, code: str, message: str, headers=None) -> None:
        headers = dict(headers or {})
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        self._json(status, {"error": code, "message": message}, None, headers)

    def _file(self, entry: Entry, fault: str | None) -> None:
        try:
            body = entry.path.read_bytes()
        except FileNotFoundError:
            return self._error(404, "not_found", "submission file disappeared")
        # Hash what is actually sent: a file replaced since the listing must not carry the old digest.
        sha = hashlib.sha256(body).hexdigest()
        content_type = CONTENT_TYPES.get(entry.item["file_format"] or "", "application/octet-stream")
        self._send(200, body, content_type, fault, {"ETag": f'"{sha}"', "X-Content-SHA256": sha})


def serve(data_dir: str | os.PathLike, port: int, token: str, host: str = "127.0.0.1") -> None:
    """Serve ``data_dir`` until interrupted (Ctrl-C); used by ``konvergensi portal``.

    Args:
        data_dir: folder laid out as ``DIR/<stream>/<file>``.
        port: TCP port (0 picks a free one and prints it).
        token: bearer token clients must send.
        host: interface to bind; loopback unless told otherwise.
    """
    server = make_server(data_dir, host, port, token=token)
    print(f"portal serving {data_dir} on {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--data DIR --port N [--host H]``; the token comes from
    ``KONVERGENSI_PORTAL_TOKEN`` only, so it stays out of the process list."""
    parser = argparse.ArgumentParser(prog="konvergensi portal", description="Serve a submission folder.")
    parser.add_argument("--data", required=True, help="folder laid out as DIR/<stream>/<file>")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    # Declared only to refuse it without echoing the value (argparse would print an unknown one).
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.token is not None:
        parser.error(ARGV_TOKEN_REFUSED)
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        parser.error(f"a token is required: set {TOKEN_ENV}")
    # Access log lines carry method, path and status only (see _Handler.log_message).
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    serve(args.data, args.port, token, args.host)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
