"""Submission identity: how a file's name tells stream, submitter and period, and how a
submission id is derived so that the same content never lands twice, whichever transport
(portal or landing folder) brought it.

File naming (landing folder and the portal's folder alike)::

    <stream>/<submitter_code>_<period>[_<free text>].<csv|xlsx|json>

``submitter_code`` is a Kemendagri region code for village streams (a village ``36.01.01.2001``,
or the district ``36.01.01``, regency ``36.01`` or province ``36`` whose villages the file covers),
a regency code (``36.01``, or the province ``36``) for regency streams and an OPD code
(``DINKES``) for OPD streams; ``period`` is ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY`` by the stream's
grain (:data:`pipelines.parsing.layouts.PERIOD_GRAIN`). The submitter level is the code's
(:func:`pipelines.parsing.file_identity.submitter_level`).

That is the fast path. A file named any other way is identified from its rows after parsing
(:mod:`pipelines.parsing.file_identity`; the portal may tell submitter and period in its listing
instead), and its submission id is derived from what its rows tell, like a well-named file's; only
a name that is unsafe to show (control characters, path separators) is refused as
``bad_file_name`` without reading the file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pipelines.parsing.file_identity import submitter_level
from pipelines.parsing.layouts import PERIOD_GRAIN, STREAMS, SUBMITTER_LEVEL

EXTENSIONS = ("csv", "xlsx", "json")

_PERIOD_RE = {
    "month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "year": re.compile(r"^(\d{4})$"),
}
# Kemendagri's national code format (any province); which codes exist is the region master's
# business, so a national or another province's deployment needs only its own master.
# A village stream's file may cover one village or every village of a district, regency or province.
_SUBMITTER_RE = {
    "village": re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.[12]\d{3})?)?)?$"),
    "regency": re.compile(r"^\d{2}(\.\d{2})?$"),
    "opd": re.compile(r"^[A-Z][A-Z0-9-]{1,29}$"),
}
# A control character or a path separator: a name never to be trusted (one regex search, not a loop
# over the characters: a national landing folder lists 250k names every night).
_UNSAFE_NAME = re.compile(r"[\x00-\x1f/\\]")
_NAME_RE = re.compile(r"^(?P<submitter>[^_/\\]+)_(?P<period>[0-9]{4}(?:-[0-9Q]{2})?)(?:_[^/\\]*)?\.(?P<ext>[A-Za-z]+)$")


class SubmissionNameError(ValueError):
    """A file name that does not follow the submission naming convention."""


class UnsafeFileName(SubmissionNameError):
    """A file name that is not shown or trusted at all (control characters, path separators)."""


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
    """Id of a file refused for its name (``bad_file_name``): the same bytes under the same name
    are still one submission. The portal lists badly named files under this id too."""
    digest = hashlib.sha256(f"{stream}|{file_name}|{content_sha256}".encode()).hexdigest()
    return f"{stream[:3]}-x{digest[:19]}"


def unidentified_submission_id(stream: str, file_name: str, content_sha256: str) -> str:
    """Id of a file named otherwise whose content was refused before it told submitter and period
    (unreadable, ``submitter_unknown``, ``period_unknown``). Not :func:`unnamed_submission_id`: a
    file refused as ``bad_file_name`` before names stopped being required is read again once, and
    a second refusal must not collide with the first."""
    digest = hashlib.sha256(f"{stream}|{file_name}|{content_sha256}|content".encode()).hexdigest()
    return f"{stream[:3]}-x{digest[:19]}"


def validate_period(stream: str, period: str) -> str:
    grain = PERIOD_GRAIN[stream]
    if not _PERIOD_RE[grain].match(period):
        raise SubmissionNameError(f"period {period!r} is not a {grain} period for stream {stream}")
    return period


def submission_key(stream: str, submitter: str, period: str, file_format: str | None) -> SubmissionKey:
    """The key of a submission whose submitter and period are told (by its name, or by the
    portal's metadata); SubmissionNameError when the code or period is not of the stream's kind."""
    level = SUBMITTER_LEVEL[stream]
    if level == "opd":
        submitter = submitter.upper()
    if not _SUBMITTER_RE[level].match(submitter):
        raise SubmissionNameError(f"{submitter!r} is not a {level} code")
    validate_period(stream, period)
    return SubmissionKey(stream, submitter_level(submitter) if level != "opd" else "opd", submitter, period,
                         file_format)


def file_format_of(file_name: str) -> str | None:
    """The lower-cased extension when it is one we read."""
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else None
    return ext if ext in EXTENSIONS else None


def parse_submission_name(stream: str, file_name: str) -> SubmissionKey:
    """Read stream, submitter and period from a file name; raise SubmissionNameError naming
    the file and what is wrong with it (:class:`UnsafeFileName` for a name never to be trusted)."""
    if stream not in STREAMS:
        raise UnsafeFileName(f"{file_name!r}: unknown stream {stream!r}")
    if _UNSAFE_NAME.search(file_name) or ".." in file_name:
        raise UnsafeFileName(f"{file_name!r}: unsafe file name")
    m = _NAME_RE.match(file_name)
    if not m:
        raise SubmissionNameError(
            f"{file_name!r}: expected <submitter_code>_<period>[_note].<csv|xlsx|json>"
        )
    ext = m["ext"].lower()
    if ext not in EXTENSIONS:
        raise SubmissionNameError(f"{file_name!r}: unsupported extension .{ext}")
    try:
        return submission_key(stream, m["submitter"], m["period"], ext)
    except SubmissionNameError as exc:
        raise SubmissionNameError(f"{file_name!r}: {exc}") from None
