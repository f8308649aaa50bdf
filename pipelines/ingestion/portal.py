"""Resilient client for the submission portal (contract: ``openapi.yaml``).

Two layers of retry, both bounded in attempts and in wall time:

* urllib3 ``Retry`` on the session's adapter handles what it can see before a response body
  is read: refused/reset connections, read timeouts, 429/5xx (honouring ``Retry-After``),
  with exponential backoff and jitter;
* a small outer loop handles what urllib3 cannot see: bodies cut short, invalid JSON and
  downloads whose size or sha256 differ from what the listing advertised.

Inputs are bounded. Bodies are read as they arrive, with the call's deadline checked between
reads and each read's timeout cut to what is left of it, so a portal trickling bytes cannot hold
a run; a body is never read past what was announced (the listed size, or ``Content-Length``).
A submission listed, or served, larger than ``max_bytes`` is refused unread
(:class:`PortalTooLargeError`); a listing whose cursor repeats, or that runs past ``max_pages``,
stops with :class:`PortalPaginationError`.

401/403 are never retried. The token lives only in the session's headers: it is never
logged nor put in an exception message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError

from pipelines.ingestion.portal_retry import DeadlineRetry
from pipelines.settings import DEFAULT_MAX_SUBMISSION_BYTES, PORTAL_MAX_PAGES

log = logging.getLogger(__name__)

API = "/api/v1"
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_JSON_BYTES = 64 * 1024 * 1024  # one listing page of 1,000 items is well under 1 MB
READ_CHUNK = 64 * 1024


class PortalError(RuntimeError):
    """Base class of portal client errors."""


class PortalAuthError(PortalError):
    """The portal rejected our token (401/403); retrying cannot help."""


class PortalUnavailableError(PortalError):
    """The portal did not give a usable answer within the retry bounds."""


class PortalTooLargeError(PortalError):
    """A submission listed or served larger than the client's ``max_bytes``; not downloaded."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class PortalPaginationError(PortalUnavailableError):
    """A listing that does not end: a cursor came back twice, or more pages than ``max_pages``."""


class _TransientBodyError(PortalError):
    """A response arrived but its body is unusable (cut short, bad JSON, wrong sha256)."""


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class PortalClient:
    """Pulls submission listings and files from the portal.

    Not safe to share across threads (like the ``requests.Session`` inside); give each
    thread its own client.

    Args:
        base_url: portal root, e.g. ``http://127.0.0.1:8080``.
        token: bearer token.
        timeout: ``(connect, read)`` seconds per HTTP attempt.
        max_retries: urllib3 retries per request (connection errors, read timeouts, 429/5xx).
        backoff_factor: exponential backoff base in seconds; jitter of the same size is added.
        max_backoff: ceiling of one backoff sleep.
        total_deadline_s: wall-time ceiling for one call (one page or one download), all retries included.
        body_attempts: attempts of the outer loop for unusable bodies.
        max_bytes: largest submission downloaded (KONVERGENSI_MAX_SUBMISSION_BYTES).
        max_pages: most pages one listing may take.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_retries: int = 5,
        backoff_factor: float = 0.2,
        max_backoff: float = 10.0,
        total_deadline_s: float = 120.0,
        body_attempts: int = 3,
        max_bytes: int = DEFAULT_MAX_SUBMISSION_BYTES,
        max_pages: int = PORTAL_MAX_PAGES,
    ) -> None:
        if not token:
            raise ValueError("portal token must not be empty")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.total_deadline_s = total_deadline_s
        self.body_attempts = max(1, body_attempts)
        self.max_bytes, self.max_pages = max_bytes, max(1, max_pages)
        self.backoff_factor = backoff_factor
        self.max_backoff = max_backoff
        self._deadline = threading.local()
        retry = DeadlineRetry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=0,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor,
            backoff_max=max_backoff,
            backoff_jitter=backoff_factor,
            respect_retry_after_header=True,
            raise_on_status=False,
            remaining=self._remaining,
        )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"
        # Bytes as stored: a compressed body could inflate past any cap before we count it.
        self.session.headers["Accept-Encoding"] = "identity"
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"PortalClient({self.base_url!r})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public API -------------------------------------------------------------------------

    def health(self) -> dict:
        """``GET /api/v1/health``."""
        return self._call(f"{API}/health", None, self._json_body)

    def list_submissions(
        self,
        stream: str | None = None,
        updated_since: datetime | str | None = None,
        page_size: int = 100,
    ) -> Iterator[dict]:
        """Yield every submission item, following cursors, in (updated_at, submission_id) order.

        Args:
            stream: only this stream (one of ``layouts.STREAMS``); all streams when None.
            updated_since: only items updated strictly after this moment (ISO 8601 or datetime).
            page_size: items per page, 1..1000.

        Yields:
            Item dicts as described by the contract.
        """
        params: dict[str, str | int] = {"limit": page_size}
        if stream:
            params["stream"] = stream
        if updated_since is not None:
            params["updated_since"] = _iso(updated_since)
        cursors: set[str] = set()
        for _ in range(self.max_pages):
            page = self._call(f"{API}/submissions", params, self._json_body)
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise PortalUnavailableError(f"GET {API}/submissions: response does not match the contract")
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return
            if cursor in cursors:
                raise PortalPaginationError(f"GET {API}/submissions: the portal sent a cursor it had sent before, "
                                            f"after {len(cursors) + 1} pages; listing stopped")
            cursors.add(cursor)
            params = {**params, "cursor": cursor}
        raise PortalPaginationError(f"GET {API}/submissions: more than {self.max_pages} pages; listing stopped")

    def get_submission(self, submission_id: str) -> dict:
        """``GET /api/v1/submissions/{id}``: one item."""
        return self._call(f"{API}/submissions/{quote(submission_id, safe='')}", None, self._json_body)

    def download(self, item: dict) -> bytes:
        """Fetch a submission's bytes and check them against the item's size and sha256.

        Args:
            item: an item from :meth:`list_submissions` or :meth:`get_submission`.

        Returns:
            The original file bytes.
        """
        path = _safe_download_path(item)
        expected_sha, expected_size = item["sha256"], int(item["size_bytes"])
        if expected_size > self.max_bytes:
            raise PortalTooLargeError(f"listed at {expected_size:,} bytes, over the cap of {self.max_bytes:,} bytes "
                                      "(KONVERGENSI_MAX_SUBMISSION_BYTES); not downloaded", expected_size)

        def verified(resp: requests.Response) -> bytes:
            announced = _content_length(resp)
            if announced is not None and announced > self.max_bytes:
                raise PortalTooLargeError(f"served as {announced:,} bytes (Content-Length), over the cap of "
                                          f"{self.max_bytes:,} bytes (KONVERGENSI_MAX_SUBMISSION_BYTES); "
                                          "not downloaded", announced)
            if announced is not None and announced != expected_size:
                raise _TransientBodyError(f"Content-Length {announced}, listing says {expected_size}")
            body = self._read(resp, expected_size)
            if len(body) != expected_size:
                raise _TransientBodyError(f"got {len(body)} bytes, listing says {expected_size}")
            if hashlib.sha256(body).hexdigest() != expected_sha:
                raise _TransientBodyError("downloaded bytes do not match the advertised sha256")
            return body

        return self._call(path, None, verified)

    # -- reading bodies ---------------------------------------------------------------------

    def _json_body(self, resp: requests.Response):
        announced = _content_length(resp)
        if announced is not None and announced > MAX_JSON_BYTES:
            raise _TransientBodyError(f"a JSON body of {announced:,} bytes, over {MAX_JSON_BYTES:,}")
        try:
            return json.loads(self._read(resp, MAX_JSON_BYTES))
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError subclass ValueError
            raise _TransientBodyError(f"invalid JSON: {exc}") from exc

    def _read(self, resp: requests.Response, limit: int) -> bytes:
        """The body as it arrives, at most ``limit`` bytes (more is an unusable body), within
        the call's deadline: each read waits no longer than what is left of it."""
        raw, chunks, total = resp.raw, [], 0
        late = f"deadline of {self.total_deadline_s}s passed while reading the body"
        try:
            while True:
                left = self._remaining()
                if left <= 0:
                    raise _TransientBodyError(late)
                _read_timeout(raw, min(self.timeout[1], left))
                chunk = raw.read1(READ_CHUNK)
                if not chunk:
                    return b"".join(chunks)
                total += len(chunk)
                if total > limit:
                    raise _TransientBodyError(f"the body runs past the {limit:,} bytes announced")
                chunks.append(chunk)
        except (Urllib3Error, OSError) as exc:  # a reset or a read timeout while reading
            raise _TransientBodyError(late if self._remaining() <= 0 else _describe(exc)) from exc

    # -- retry machinery --------------------------------------------------------------------

    def _remaining(self) -> float:
        deadline = getattr(self._deadline, "at", None)
        return float("inf") if deadline is None else deadline - time.monotonic()

    def _call(self, path: str, params, decode):
        """GET ``path`` and decode the body, retrying unusable bodies within the bounds."""
        self._deadline.at = time.monotonic() + self.total_deadline_s
        last_error = "no attempt made"
        try:
            for attempt in range(1, self.body_attempts + 1):
                resp = self._get(path, params)
                try:
                    return decode(resp)
                except (_TransientBodyError, requests.exceptions.RequestException) as exc:
                    # Body-phase failures (cut short, reset, timeout while reading) land here.
                    last_error = _describe(exc)
                    log.warning("portal GET %s: unusable body (attempt %d): %s", path, attempt, last_error)
                finally:
                    resp.close()
                if attempt == self.body_attempts or self._remaining() <= 0:
                    break
                pause = min(self.backoff_factor * 2 ** (attempt - 1), self.max_backoff, self._remaining())
                time.sleep(max(0.0, pause))
            raise PortalUnavailableError(
                f"GET {path}: no usable response after {attempt} attempt(s); last error: {last_error}"
            )
        finally:
            self._deadline.at = None

    def _get(self, path: str, params) -> requests.Response:
        """One request through the urllib3 retry layer; raises our errors, returns a 2xx response."""
        left = self._remaining()
        if left <= 0:
            raise PortalUnavailableError(f"GET {path}: deadline of {self.total_deadline_s}s passed")
        connect, read = self.timeout
        url = self.base_url + path
        try:
            resp = self.session.get(
                url, params=params, timeout=(min(connect, left), min(read, left)), stream=True
            )
        except requests.exceptions.RequestException as exc:
            exhausted = isinstance(exc.args[0] if exc.args else None, MaxRetryError)
            detail = "retries exhausted" if exhausted else "transport error"
            raise PortalUnavailableError(f"GET {path}: {detail}; last error: {_describe(exc)}") from exc
        if resp.status_code in (401, 403):
            resp.close()
            raise PortalAuthError(
                f"GET {path}: the portal rejected the token (HTTP {resp.status_code}); "
                "check KONVERGENSI_PORTAL_TOKEN"
            )
        if resp.status_code in RETRY_STATUSES:
            resp.close()
            raise PortalUnavailableError(
                f"GET {path}: retries exhausted; last error: HTTP {resp.status_code}"
            )
        if resp.status_code >= 400:
            message = _error_message(resp)
            resp.close()
            raise PortalError(f"GET {path}: HTTP {resp.status_code}: {message}")
        return resp


def _content_length(resp: requests.Response) -> int | None:
    try:
        value = int(resp.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _read_timeout(raw, seconds: float) -> None:
    """Cut the socket's timeout for the next read (urllib3 keeps the connection on a streamed
    response); the timeout given at request time would otherwise apply to every read."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(0.001, seconds))


def _error_message(resp: requests.Response) -> str:
    try:  # an error body is short; read no more than a few KB of it
        return str(json.loads(resp.raw.read(4096)).get("message", ""))[:200]
    except (ValueError, AttributeError, Urllib3Error, OSError):
        return ""


def _describe(exc: BaseException) -> str:
    """Exception type and message, cut short; never carries request headers."""
    text = str(exc)
    return f"{type(exc).__name__}: {text[:300]}"


def _safe_download_path(item: dict) -> str:
    """The item's ``download_url`` only when it is a plain path under this API on this host;
    otherwise the file URL built from the (percent-quoted) submission id. A listing cannot send
    the client, and its token, elsewhere (``@host``, ``//host``, ``../``, control characters)."""
    url = item.get("download_url")
    if (
        isinstance(url, str)
        and url.startswith(f"{API}/submissions/")
        and not any(bad in url for bad in ("@", "//", "..", "\\"))
        and all(" " < ch < "\x7f" for ch in url)
    ):
        return url
    return f"{API}/submissions/{quote(str(item['submission_id']), safe='')}/file"
