"""Submission identity: how a file's name tells stream, submitter and period, and how a
submission id is derived so that the same content never lands twice, whichever transport
(portal or landing folder) brought it.

File naming (landing folder and the portal's folder alike)::

    <stream>/<submitter_code>_<period>[_<free text>].<csv|xlsx|json>

``submitter_code`` is a Kemendagri village code (``36.01.01.2001``) for village streams, a
regency code (``36.01``) for regency streams and an OPD code (``DINKES``) for OPD streams;
``period`` is ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY`` by the stream's grain
(:data:`pipelines.parsing.layouts.PERIOD_GRAIN`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pipelines.parsing.layouts import PERIOD_GRAIN, STREAMS, SUBMITTER_LEVEL

EXTENSIONS = ("csv", "xlsx", "json")

_PERIOD_RE = {
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
}
# Kemendagri's national code format (any province); which codes exist is the region master's
# business, so a national or another province's deployment needs only its own master.
_SUBMITTER_RE = {
    "village": re.compile(r"^\d{2}\.\d{2}\.\d{2}\.[12]\d{3}$"),
    "regency": re.compile(r"^\d{2}\.\d{2}$"),
    "opd": re.compile(r"^[A-Z][A-Z0-9-]{1,29}$"),
}
_NAME_RE = re.compile(r"^(?P<submitter>[^_/\\]+)_(?P<period>[0-9]{4}(?:-[0-9Q]{2})?)(?:_[^/\\]*)?\.(?P<ext>[A-Za-z]+)$")


class SubmissionNameError(ValueError):
    """A file name that does not follow the submission naming convention."""


@dataclass(frozen=True)
class SubmissionKey:
    stream: str
    submitter_level: str
    submitter_code: str
    period: str
    file_format: str


def sha256_hex(content: bytes) -> str:
    """The content hash everywhere (submission ids, landing fingerprints, sensor run keys): the
    full sha256 in hex."""
    return hashlib.sha256(content).hexdigest()


def submission_id(stream: str, submitter_code: str, period: str, content_sha256: str) -> str:
    """Deterministic id: same stream, submitter, period and bytes give the same id on every
    transport, so re-pulling or re-dropping a file is a no-op."""
    digest = hashlib.sha256(f"{stream}|{submitter_code}|{period}|{content_sha256}".encode()).hexdigest()
    return f"{stream[:3]}-{digest[:20]}"


def unnamed_submission_id(stream: str, file_name: str, content_sha256: str) -> str:
    """Id of a file whose name tells no submitter or period (it lands as ``bad_file_name``): the
    same bytes under the same name are still one submission."""
    digest = hashlib.sha256(f"{stream}|{file_name}|{content_sha256}".encode()).hexdigest()
    return f"{stream[:3]}-x{digest[:19]}"


def validate_period(stream: str, period: str) -> str:
    grain = PERIOD_GRAIN[stream]
    if not _PERIOD_RE[grain].match(period):
        raise SubmissionNameError(f"period {period!r} is not a {grain} period for stream {stream}")
    return period


def parse_submission_name(stream: str, file_name: str) -> SubmissionKey:
    """Read stream, submitter and period from a file name; raise SubmissionNameError naming
    the file and what is wrong with it."""
    if stream not in STREAMS:
        raise SubmissionNameError(f"{file_name!r}: unknown stream {stream!r}")
    if any(ord(ch) < 32 for ch in file_name) or "/" in file_name or "\\" in file_name or ".." in file_name:
        raise SubmissionNameError(f"{file_name!r}: unsafe file name")
    m = _NAME_RE.match(file_name)
    if not m:
        raise SubmissionNameError(
            f"{file_name!r}: expected <submitter_code>_<period>[_note].<csv|xlsx|json>"
        )
    ext = m["ext"].lower()
    if ext not in EXTENSIONS:
        raise SubmissionNameError(f"{file_name!r}: unsupported extension .{ext}")
    level = SUBMITTER_LEVEL[stream]
    submitter = m["submitter"]
    if level == "opd":
        submitter = submitter.upper()
    if not _SUBMITTER_RE[level].match(submitter):
        raise SubmissionNameError(f"{file_name!r}: {submitter!r} is not a {level} code")
    validate_period(stream, m["period"])
    return SubmissionKey(stream, level, submitter, m["period"], ext)
