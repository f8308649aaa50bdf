"""What ingestion tells the parser of a file before parsing it, for tests that call the parser
directly: a well-named file's submitter and period (pipelines.ingestion.incoming.Incoming.hints),
nothing for a file named otherwise (its rows tell)."""

from __future__ import annotations

from pipelines.ingestion.identity import SubmissionNameError, parse_submission_name
from pipelines.parsing.file_identity import FileHints


def name_hints(stream: str, files) -> list[FileHints]:
    """One FileHints per ``(file_name, content)`` pair."""
    out = []
    for name, *_ in files:
        try:
            key = parse_submission_name(stream, name)
        except SubmissionNameError:
            out.append(FileHints())
            continue
        out.append(FileHints(key.submitter_code, key.period))
    return out
