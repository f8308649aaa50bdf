"""The landing folder: which files are ready to read, and reading one without trusting it.

One rule for ingestion and the landing-folder sensor (both list the folder through
:func:`~pipelines.ingestion.incoming.landing_incoming`):

* names of uploads in progress are not listed at all: dotfiles, ``~$*`` Office lock files,
  ``*.part``, ``*.tmp``; a file is picked up once renamed to its final name;
* every entry is ``lstat``-ed, never followed: a symbolic link (to a file or a folder, even a
  stream folder), a FIFO, a socket or a device is refused ``not_regular_file`` without being
  opened, so a link to ``/proc/self/environ`` cannot bring its target into the warehouse;
* a file over the size cap (:attr:`ReadyRule.max_bytes`) is refused ``too_large`` unread;
* a file modified within the settle time (:attr:`ReadyRule.settle_s`) is left for the next run:
  not refused, not fingerprinted, so it is read once its writer is done.

Reading (:func:`read_listed`) opens the path with ``O_NOFOLLOW``, checks that it is the very file
listed (device, inode, size, mtime) and reads at most its listed size plus one byte: a file that
changed or grew since it was listed is left for the next run, one that disappeared is skipped
(:class:`~pipelines.ingestion.unread.Vanished`), and memory stays bounded by the cap.
"""

from __future__ import annotations

import errno
import functools
import os
import stat as st_mode
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from pipelines import settings
from pipelines.ingestion.unread import NotReady, Refused, Vanished

IN_PROGRESS_PREFIXES = (".", "~$")
IN_PROGRESS_SUFFIXES = (".part", ".tmp")


def in_progress_name(name: str) -> bool:
    """Whether a name is an upload in progress (dotfile, Office lock file, ``.part``, ``.tmp``)."""
    return name.startswith(IN_PROGRESS_PREFIXES) or name.lower().endswith(IN_PROGRESS_SUFFIXES)


@dataclass(frozen=True)
class ReadyRule:
    """When a listed landing file is read: at most ``max_bytes`` bytes, unmodified for
    ``settle_s`` seconds."""

    max_bytes: int = settings.DEFAULT_MAX_SUBMISSION_BYTES
    settle_s: float = settings.DEFAULT_LANDING_SETTLE_SECONDS

    @classmethod
    def from_env(cls) -> ReadyRule:
        """``KONVERGENSI_MAX_SUBMISSION_BYTES`` and ``KONVERGENSI_LANDING_SETTLE_SECONDS``."""
        return cls(settings.max_submission_bytes(), settings.landing_settle_seconds())

    def unread(self, st: os.stat_result, now: float) -> Refused | NotReady | None:
        """Why an entry (its ``lstat``) is not read now; None when it is ready."""
        if st_mode.S_ISLNK(st.st_mode):
            return Refused("not_regular_file", "a symbolic link: links are never followed; put the file itself here")
        if not st_mode.S_ISREG(st.st_mode):
            return Refused("not_regular_file", f"a {_kind(st.st_mode)}, not a regular file")
        if st.st_size > self.max_bytes:
            return Refused("too_large", f"{st.st_size:,} bytes, over the cap of {self.max_bytes:,} bytes "
                                        "(KONVERGENSI_MAX_SUBMISSION_BYTES)", st.st_size)
        age = now - st.st_mtime
        # A clock a little ahead (a network share) counts as fresh too.
        if abs(age) < self.settle_s:
            return NotReady(f"modified {age:.0f} s ago (under {self.settle_s:g} s): still being written?")
        return None


def _kind(mode: int) -> str:
    for test, name in ((st_mode.S_ISDIR, "folder"), (st_mode.S_ISFIFO, "FIFO"), (st_mode.S_ISSOCK, "socket"),
                       (st_mode.S_ISCHR, "character device"), (st_mode.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


class Listed(NamedTuple):
    """One entry of the landing folder, as ``lstat`` saw it (a link's own, never its target's).

    ``full`` is its path as a string and ``relative`` its path below the landing root with ``/``
    separators (no :class:`Path` per entry: a national folder lists 250k files).
    """

    stream: str
    full: str
    relative: str
    name: str
    st: os.stat_result


def _walk(folder: str, relative: str, out: list[tuple[tuple[str, ...], str, str, str, os.stat_result]],
          keep: Callable[[str], bool] | None = None) -> None:
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except FileNotFoundError:
        return  # removed while listed
    for de in entries:
        if in_progress_name(de.name):
            continue
        if keep is not None and not keep(de.name) and not de.is_dir(follow_symlinks=False):
            continue  # not wanted by its name: not even stat'ed
        try:
            st = de.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        below = f"{relative}/{de.name}"
        if st_mode.S_ISDIR(st.st_mode):
            _walk(de.path, below, out, keep)
        else:
            out.append((tuple(below.split("/")), de.path, below, de.name, st))


def scan(root: Path, streams: Iterable[str], keep: Callable[[str, str], bool] | None = None) -> Iterator[Listed]:
    """Every entry under ``root/<stream>/`` (sub-folders included, links to folders not followed)
    but uploads in progress, in a stable order (that of their paths' parts, as :class:`Path`
    sorts them). A stream folder that is itself a link is listed as one entry, to be refused.
    ``keep(stream, name)``: only the files it keeps are listed, and the others are not even
    stat'ed (a quiet night looks at one month of a 250k-file folder)."""
    for stream in streams:
        folder = root / stream
        try:
            st = folder.lstat()
        except FileNotFoundError:
            continue
        if st_mode.S_ISLNK(st.st_mode):
            yield Listed(stream, str(folder), stream, stream, st)
        if not st_mode.S_ISDIR(st.st_mode):
            continue
        found: list[tuple[tuple[str, ...], str, str, str, os.stat_result]] = []
        _walk(str(folder), stream, found, None if keep is None else functools.partial(keep, stream))
        found.sort(key=lambda f: f[0])
        for _, full, relative, name, entry in found:
            yield Listed(stream, full, relative, name, entry)


def read_listed(path: Path, listed: os.stat_result) -> bytes:
    """The bytes of the regular file listed as ``listed`` at ``path``, never following a link;
    raises :class:`NotReady` when it changed since it was listed (or while read) and
    :class:`Vanished` when it is gone."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise Vanished("disappeared between the listing and the read") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotReady("replaced by a symbolic link since it was listed") from exc
        raise
    with os.fdopen(fd, "rb") as f:
        opened = os.fstat(fd)
        if not st_mode.S_ISREG(opened.st_mode) or _identity(opened) != _identity(listed):
            raise NotReady("changed since it was listed")
        content = f.read(listed.st_size + 1)
        if len(content) != listed.st_size or _identity(os.fstat(fd)) != _identity(listed):
            raise NotReady(f"changed while read ({len(content):,} bytes read, {listed.st_size:,} listed)")
    return content


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns
