"""Files a transport offers that are not read in this run, and why.

* :class:`Refused`: never to be read as it is (a landing symlink, device or folder link; a file
  over the size cap on either transport). Recorded in ``quarantine.rejected_files`` with its
  reason code and a ``raw.submissions`` row, like a file refused after reading, so that it shows
  in the run summary and the report until a corrected file replaces it.
* :class:`NotReady`: not yet (a landing file still being written, or changed while read).
  Nothing is recorded and nothing fingerprinted: the next run looks again.
* :class:`Vanished`: a landing file deleted between the listing and the read. Skipped with a
  warning; the run goes on.
"""

from __future__ import annotations

from pipelines.ingestion.identity import sha256_hex


class Refused(Exception):
    """A file refused without reading it; ``reason`` is its ``quarantine.rejected_files`` code."""

    def __init__(self, reason: str, detail: str, size: int = 0) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.size = reason, detail, size


class NotReady(Exception):
    """A landing file left for the next run (being written, or changed since it was listed)."""


class Vanished(NotReady):
    """A landing file that disappeared between the listing and the read."""


def unread_sha256(reason: str, *where: object) -> str:
    """The ``content_sha256`` recorded for a file refused unread, its bytes never seen: a digest of
    the reason and what identifies the file where it was offered (landing: path, size, mtime;
    portal: stream, name, listed hash and size). The refusal is recorded once; a file changed in
    its place, or the same file once the cap is raised, is looked at again."""
    return sha256_hex("|".join(["unread", reason, *map(str, where)]).encode())
