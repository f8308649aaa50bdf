"""What the transports offer: one :class:`Incoming` per file, from the landing folder or the portal.

A file's name is read once, when its Incoming is made: the submission key (stream, submitter,
period) travels with it, and everything after (the month filter, the submission id, the sensors'
month) reads it from there. A file named otherwise carries no key (unless the portal's listing
tells submitter and period): it is *unnamed*, parsed whatever the run's months, identified from its
rows (:mod:`pipelines.parsing.file_identity`) and only then given its submission id. A name unsafe
to trust (control characters, path separators) is refused (``name_error``) without being parsed.
Bytes are fetched lazily: a portal download costs, and a file already landed is never fetched.
Which landing files are offered, and how one is read, is :mod:`pipelines.ingestion.landing`'s rule;
a fetch may raise :class:`~pipelines.ingestion.unread.Refused` or
:class:`~pipelines.ingestion.unread.NotReady` instead of returning bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.ingestion.fingerprints import Cache, FileStat, Fingerprint, cached_hash, fingerprint
from pipelines.ingestion.identity import (
    SubmissionKey,
    SubmissionNameError,
    UnsafeFileName,
    file_format_of,
    parse_submission_name,
    submission_id,
    submission_key,
    unnamed_submission_id,
)
from pipelines.ingestion.landing import ReadyRule, read_listed, scan
from pipelines.ingestion.portal import PortalTooLargeError
from pipelines.ingestion.unread import Refused, unread_sha256
from pipelines.parsing.file_identity import FileHints
from pipelines.parsing.layouts import STREAMS
from pipelines.periods import ALL_MONTHS, partition_for_period, wants

ParseName = Callable[[str, str], SubmissionKey]


def read_name(
    stream: str, file_name: str, parse_name: ParseName = parse_submission_name
) -> tuple[SubmissionKey | None, str | None]:
    """``(key, None)`` for a well-named file, ``(None, None)`` for a file named otherwise (its rows
    will tell), ``(None, why)`` for a name refused outright (unsafe)."""
    try:
        return parse_name(stream, file_name), None
    except UnsafeFileName as exc:
        return None, str(exc)
    except SubmissionNameError:
        return None, None


def listed_key(stream: str, item: dict) -> SubmissionKey | None:
    """Submitter and period the portal's listing tells for a file whose name does not (its upload
    form's fields); None when it tells none or they are not of the stream's kind."""
    code, period = item.get("submitter_code"), item.get("period")
    if not code or not period:
        return None
    try:
        return submission_key(stream, str(code), str(period), file_format_of(item["file_name"]))
    except SubmissionNameError:
        return None


@dataclass
class Incoming:
    """One file offered by a transport; bytes fetched lazily (portal downloads cost).

    ``key``/``name_error`` are what the name tells (read once; made here unless ``name_read``):
    a key, or a refusal, or neither (an unnamed file, identified from its rows).
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
    name_read: bool = False
    # Landing files: asks the kernel to start reading the file now (see land.read_ahead).
    advise: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if not self.name_read and self.key is None and self.name_error is None:
            self.key, self.name_error = read_name(self.stream, self.file_name)
        self.name_read = True

    @property
    def period(self) -> str | None:
        return self.key.period if self.key is not None else None

    @property
    def unnamed(self) -> bool:
        """Submitter and period are read from its rows (the name and the listing tell neither)."""
        return self.key is None and self.name_error is None

    @property
    def partition(self) -> str | None:
        """The month partition that lands this file: None when any run lands it (a refused name, a
        period without a partition, see periods.py); ALL_MONTHS when only its rows will tell."""
        return ALL_MONTHS if self.unnamed else partition_for_period(self.period)

    @property
    def hints(self) -> FileHints:
        """What the parser is told: submitter and period when known, and when the file arrived."""
        if self.key is None:
            return FileHints(received_at=self.received_at)
        return FileHints(self.key.submitter_code, self.key.period, self.received_at)

    def lands_in(self, months: set[str] | None) -> bool:
        """Whether a run over ``months`` (None: every month) may land this file (an unnamed file is
        parsed by any run; whether it lands is decided once its rows told its period)."""
        return self.unnamed or wants(self.period, months)

    def must_read(self, cache: Cache) -> bool:
        """Whether :meth:`fingerprint` will read the file: a landing file not refused unread whose
        size or mtime changed since its cached fingerprint (or that has none)."""
        return self.stat is not None and self.sha256 is None and cached_hash(cache, self.stat) is None

    def fingerprint(self, cache: Cache) -> tuple[Fingerprint, bytes | None]:
        """A landing file's fingerprint and, when it had to be read, its bytes; ingestion and the
        sensor both ask here. A file refused unread keeps its stand-in hash and is never opened;
        one not ready raises :class:`~pipelines.ingestion.unread.NotReady`."""
        if self.sha256 is not None:
            return Fingerprint(*self.stat, self.sha256), None
        return fingerprint(self.stat, self.fetch, cache)

    def submission_id(self, sha: str) -> str | None:
        """None for an unnamed file: its id is known once its rows told submitter and period."""
        if self.key is not None:
            return submission_id(self.stream, self.key.submitter_code, self.key.period, sha)
        return None if self.unnamed else unnamed_submission_id(self.stream, self.file_name, sha)


def landing_incoming(
    root: Path, streams: Iterable[str] = STREAMS, parse_name: ParseName = parse_submission_name,
    rule: ReadyRule | None = None, keep: Callable[[str, str], bool] | None = None,
) -> Iterator[Incoming]:
    """Landing-folder files as submissions (the mtime is when it was received), under ``rule``
    (default: the configured :class:`~pipelines.ingestion.landing.ReadyRule`). A file refused
    unread carries a stand-in hash (:func:`~pipelines.ingestion.unread.unread_sha256`) and a fetch
    that raises its refusal; one not ready yet, a fetch that says so. ``keep(stream, name)``: only
    the files it keeps (:func:`~pipelines.ingestion.landing.scan`)."""
    rule = rule or ReadyRule.from_env()
    now = time.time()
    for entry in scan(root, streams, keep):
        st = entry.st
        received = dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC).replace(tzinfo=None)
        stat = FileStat(entry.relative, st.st_size, st.st_mtime_ns)
        key, error = read_name(entry.stream, entry.name, parse_name)
        unread = rule.unread(st, now)
        fetch = functools.partial(_raise, unread) if unread else functools.partial(_read_landing, entry.full, st)
        sha = unread_sha256(unread.reason, *stat) if isinstance(unread, Refused) else None
        yield Incoming(entry.stream, entry.name, "landing", received, fetch, sha256=sha, stat=stat, key=key,
                       name_error=error, name_read=True,
                       advise=None if unread else functools.partial(advise_will_read, entry.full))


def _read_landing(full: str, st) -> bytes:
    """:func:`read_listed` of a listed file, its :class:`Path` built only when it is read."""
    return read_listed(Path(full), st)


def advise_will_read(full: str) -> None:
    """Tell the kernel the file will be read soon (``POSIX_FADV_WILLNEED``): it starts reading it
    into the page cache in the background. Opened as :func:`~pipelines.ingestion.landing.read_listed`
    opens it (no link followed, no blocking on a FIFO); any failure is ignored: the read itself
    reports it."""
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
    except (OSError, AttributeError):  # not a regular file, or a platform without posix_fadvise
        pass
    finally:
        os.close(fd)


def _raise(exc: Exception) -> bytes:
    raise exc


def portal_item(
    client, item: dict, stream: str | None = None, parse_name: ParseName = parse_submission_name
) -> Incoming:
    """One portal listing item (``file_name``, ``updated_at``, ``sha256``; ``stream`` unless
    given) as a submission: its name's key, else the submitter and period the listing tells."""
    stream = stream or item["stream"]
    received = None
    if item.get("updated_at"):
        received = dt.datetime.fromisoformat(item["updated_at"].replace("Z", "+00:00"))
        received = received.astimezone(dt.UTC).replace(tzinfo=None)
    key, error = read_name(stream, item["file_name"], parse_name)
    if key is None and error is None:
        key = listed_key(stream, item)
    return Incoming(stream, item["file_name"], "portal", received, functools.partial(_download, client, item),
                    sha256=item.get("sha256"), key=key, name_error=error, name_read=True)


def _download(client, item: dict) -> bytes:
    """A portal download; one over the size cap is refused (recorded), not a failed pull."""
    try:
        return client.download(item)
    except PortalTooLargeError as exc:
        raise Refused("too_large", str(exc), exc.size) from exc


def portal_incoming(
    client, streams: Iterable[str] = STREAMS, updated_since: str | None = None,
    parse_name: ParseName = parse_submission_name,
) -> Iterator[Incoming]:
    """The portal's submissions of each stream updated since ``updated_since`` (None: all)."""
    for stream in streams:
        for item in client.list_submissions(stream=stream, updated_since=updated_since):
            yield portal_item(client, item, stream, parse_name)
