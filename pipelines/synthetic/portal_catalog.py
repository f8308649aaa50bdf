"""The portal's view of its folder: ``DIR/<stream>/<file>`` scanned into contract items.

A file's submitter and period come from its name; for a file named otherwise, from the upload
form's fields, which the portal keeps beside it as ``<file>.meta.json`` (``{"submitter_code":
"36.04.15", "period": "2024-08"}``; not listed itself). Pure functions and a small sha256 cache;
no HTTP here (that is :mod:`pipelines.synthetic.portal_server`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.ingestion.identity import (
    SubmissionNameError,
    parse_submission_name,
    submission_id,
    submission_key,
    unnamed_submission_id,
)
from pipelines.parsing.layouts import STREAMS, SUBMITTER_LEVEL

API = "/api/v1"
# Well-named files: 20 hex digits; badly named ones: "x" + 19, so the two can never collide.
SUBMISSION_ID_RE = re.compile(r"^[a-z_]{3}-(?:[0-9a-f]{20}|x[0-9a-f]{19})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
META_SUFFIX = ".meta.json"  # the upload form's fields of the file it is named after


def _form_fields(path: Path) -> tuple[dict | None, int]:
    """The upload form's fields kept beside a file (None when absent or not a JSON object), and
    when they were written (epoch microseconds, 0 when absent)."""
    try:
        st = path.stat()
        fields = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return None, 0
    return (fields if isinstance(fields, dict) else None), st.st_mtime_ns // 1000


def iso_utc(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_since(value: str) -> int:
    """ISO 8601 timestamp to epoch microseconds; a value without offset is taken as UTC."""
    # An unencoded "+01:00" arrives as " 01:00" after query-string decoding.
    moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def encode_cursor(micros: int, sid: str) -> str:
    return base64.urlsafe_b64encode(f"{micros}|{sid}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    micros, sid = raw.split("|", 1)
    return int(micros), sid


@dataclass(frozen=True)
class Entry:
    """One file as the portal lists it; ``key`` orders the listing and cursors."""

    item: dict
    path: Path
    micros: int

    @property
    def key(self) -> tuple[int, str]:
        return (self.micros, self.item["submission_id"])


class Catalog:
    """Scans ``DIR/<stream>/<file>`` and hashes only files whose size or mtime changed."""

    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.root = Path(data_dir)
        self._sha: dict[str, tuple[int, int, str]] = {}
        self._by_id: dict[str, Entry] = {}
        self._lock = threading.Lock()

    def _sha256(self, path: Path, size: int, mtime_ns: int) -> str:
        cache_key = str(path)
        with self._lock:
            hit = self._sha.get(cache_key)
        if hit and hit[:2] == (size, mtime_ns):
            return hit[2]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with self._lock:
            self._sha[cache_key] = (size, mtime_ns, digest)
        return digest

    def _entry(self, stream: str, de: os.DirEntry) -> Entry:
        st = de.stat(follow_symlinks=False)
        sha = self._sha256(Path(de.path), st.st_size, st.st_mtime_ns)
        micros = st.st_mtime_ns // 1000
        ext = de.name.rsplit(".", 1)[1].lower() if "." in de.name else None
        try:
            key = parse_submission_name(stream, de.name)
            name_error = None
        except SubmissionNameError as exc:
            key, name_error = None, str(exc)
            form, form_micros = _form_fields(Path(de.path + META_SUFFIX))
            micros = max(micros, form_micros)  # new or changed fields relist the file
            if form is not None:
                try:
                    key = submission_key(stream, str(form.get("submitter_code") or ""), str(form.get("period") or ""),
                                         ext)
                except SubmissionNameError:
                    key = None
        if key is not None:
            sid = submission_id(stream, key.submitter_code, key.period, sha)
            code, period, fmt, level = key.submitter_code, key.period, key.file_format, key.submitter_level
        else:
            sid = unnamed_submission_id(stream, de.name, sha)
            code, period, fmt, level = None, None, ext, SUBMITTER_LEVEL[stream]
        item = {
            "submission_id": sid,
            "stream": stream,
            "file_name": de.name,
            "submitter_level": level,
            "submitter_code": code,
            "period": period,
            "file_format": fmt,
            "sha256": sha,
            "size_bytes": st.st_size,
            "updated_at": iso_utc(micros),
            "download_url": f"{API}/submissions/{sid}/file",
            "name_error": name_error,
        }
        return Entry(item, Path(de.path), micros)

    def scan(self) -> list[Entry]:
        """Every submission, ordered by (updated_at, submission_id), one entry per id."""
        by_id: dict[str, Entry] = {}
        for stream in STREAMS:
            folder = self.root / stream
            if not folder.is_dir():
                continue
            with os.scandir(folder) as it:
                for de in it:
                    # Dotfiles and Office lock files are uploads in progress, not submissions;
                    # form fields are the metadata of the file they are named after.
                    if de.name.startswith((".", "~$")) or de.name.endswith(META_SUFFIX) or not de.is_file(
                            follow_symlinks=False):
                        continue
                    try:
                        entry = self._entry(stream, de)
                    except FileNotFoundError:
                        continue  # removed between listing and stat
                    sid = entry.item["submission_id"]
                    # Identical bytes under two names share an id; keep the earliest so it is stable.
                    old = by_id.get(sid)
                    if old is None or (entry.micros, entry.path.name) < (old.micros, old.path.name):
                        by_id[sid] = entry
        with self._lock:
            self._by_id = dict(by_id)
        return sorted(by_id.values(), key=lambda e: e.key)

    def find(self, sid: str) -> Entry | None:
        """The entry for an id: from the last scan when its file is unchanged (a download must
        not cost a scan of the whole folder), else after a fresh scan."""
        with self._lock:
            entry = self._by_id.get(sid)
        if entry is not None:
            try:
                st = entry.path.stat()
                cached = self._sha.get(str(entry.path))
                if cached and cached[:2] == (st.st_size, st.st_mtime_ns):
                    return entry
            except FileNotFoundError:
                pass
        return next((e for e in self.scan() if e.item["submission_id"] == sid), None)
