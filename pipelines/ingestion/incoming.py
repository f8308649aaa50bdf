"""What the transports offer: one :class:`Incoming` per file, from the landing folder or the portal.

A file's name is read once, when its Incoming is made: the submission key (stream, submitter,
period) or what is wrong with the name travels with it, and everything after (the month filter,
the submission id, the sensors' month) reads it from there. Bytes are fetched lazily: a portal
download costs, and a file already landed is never fetched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingestion.fingerprints import FileStat
from pipelines.ingestion.identity import (
    SubmissionKey,
    SubmissionNameError,
    parse_submission_name,
    submission_id,
    unnamed_submission_id,
)
from pipelines.parsing.layouts import STREAMS
from pipelines.periods import partition_for_period, wants

ParseName = Callable[[str, str], SubmissionKey]


def read_name(
    stream: str, file_name: str, parse_name: ParseName = parse_submission_name
) -> tuple[SubmissionKey | None, str | None]:
    """``(key, None)`` for a well-named file, ``(None, why not)`` for any other."""
    try:
        return parse_name(stream, file_name), None
    except SubmissionNameError as exc:
        return None, str(exc)


@dataclass
class Incoming:
    """One file offered by a transport; bytes fetched lazily (portal downloads cost).

    ``key``/``name_error`` are what the name tells (read once; made here when not given).
    """

    stream: str
    file_name: str
    transport: str
    received_at: dt.datetime | None
    fetch: Callable[[], bytes]
    sha256: str | None = None  # the portal lists it; a landing file's comes from its fingerprint
    # Landing files: relative path, size and mtime. A file whose size and mtime match the last
    # run's is not read again; its recorded hash stands in (a no-op run reads nothing).
    stat: FileStat | None = None
    key: SubmissionKey | None = None
    name_error: str | None = None

    def __post_init__(self) -> None:
        if self.key is None and self.name_error is None:
            self.key, self.name_error = read_name(self.stream, self.file_name)

    @property
    def period(self) -> str | None:
        return self.key.period if self.key is not None else None

    @property
    def partition(self) -> str | None:
        """The month partition that lands this file (None: any run lands it, see periods.py)."""
        return partition_for_period(self.period)

    def lands_in(self, months: set[str] | None) -> bool:
        """Whether a run over ``months`` (None: every month) lands this file."""
        return wants(self.period, months)

    def submission_id(self, sha: str) -> str:
        if self.key is None:
            return unnamed_submission_id(self.stream, self.file_name, sha)
        return submission_id(self.stream, self.key.submitter_code, self.key.period, sha)


def landing_files(root: Path, streams: Iterable[str] = STREAMS) -> Iterator[tuple[str, Path]]:
    """``(stream, path)`` of every file under ``root/<stream>/`` in a stable order; dotfiles are
    uploads in progress and are left alone."""
    for stream in streams:
        folder = root / stream
        if folder.is_dir():
            for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
                yield stream, path


def landing_incoming(
    root: Path, streams: Iterable[str] = STREAMS, parse_name: ParseName = parse_submission_name
) -> Iterator[Incoming]:
    """Landing-folder files as submissions; the mtime is when it was received."""
    for stream, path in landing_files(root, streams):
        st = path.stat()
        received = dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC).replace(tzinfo=None)
        stat = FileStat(path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns)
        key, error = read_name(stream, path.name, parse_name)
        yield Incoming(stream, path.name, "landing", received, path.read_bytes, stat=stat, key=key, name_error=error)


def portal_item(
    client, item: dict, stream: str | None = None, parse_name: ParseName = parse_submission_name
) -> Incoming:
    """One portal listing item (``file_name``, ``updated_at``, ``sha256``; ``stream`` unless
    given) as a submission."""
    stream = stream or item["stream"]
    received = None
    if item.get("updated_at"):
        received = dt.datetime.fromisoformat(item["updated_at"].replace("Z", "+00:00"))
        received = received.astimezone(dt.UTC).replace(tzinfo=None)
    key, error = read_name(stream, item["file_name"], parse_name)
    return Incoming(stream, item["file_name"], "portal", received, (lambda: client.download(item)),
                    sha256=item.get("sha256"), key=key, name_error=error)


def portal_incoming(
    client, streams: Iterable[str] = STREAMS, updated_since: str | None = None,
    parse_name: ParseName = parse_submission_name,
) -> Iterator[Incoming]:
    """The portal's submissions of each stream updated since ``updated_since`` (None: all)."""
    for stream in streams:
        for item in client.list_submissions(stream=stream, updated_since=updated_since):
            yield portal_item(client, item, stream, parse_name)
