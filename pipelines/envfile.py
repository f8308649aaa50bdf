"""One ``.env`` for the command line and the Dagster UI.

`dagster dev` (and every `dagster` command) reads ``.env`` from its working directory with
python-dotenv; ``konvergensi`` reads the same file from its working directory with the same parser
(:func:`load_env_file`), so `make dev` and `konvergensi run` started in the project root see the
same configuration. One difference, on purpose: a variable already set in the shell wins here,
where `dagster` lets the file win, so that a test or a one-off ``KONVERGENSI_WAREHOUSE=… konvergensi
run`` is never redirected by a developer's ``.env``.

:func:`write_dev_env` is `make dev-env`: a local ``.env`` from ``.env.example`` with a freshly
generated pseudonym key and a local landing folder, never overwriting an existing file.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

from dotenv import dotenv_values  # what Dagster's own .env loader uses (pinned in requirements.lock)

ENV_FILE = ".env"
LOCAL_LANDING_DIR = "landing"


def load_env_file(directory: Path | None = None) -> list[str]:
    """Set the variables of ``<directory>/.env`` (default: the working directory) that the
    environment does not already set; return their names (never their values)."""
    path = Path(directory or Path.cwd()) / ENV_FILE
    if not path.is_file():
        return []
    loaded = []
    for name, value in dotenv_values(path).items():
        if value is not None and name not in os.environ:
            os.environ[name] = value
            loaded.append(name)
    return loaded


def write_dev_env(target: Path, example: Path) -> bool:
    """Write a local development ``.env`` at ``target`` from ``example``: a new secret pseudonym
    key (``secrets.token_urlsafe(32)``, 43 characters) and ``KONVERGENSI_LANDING_DIR`` pointing at
    a ``landing/`` folder beside it (created); every other variable stays commented out, at its
    default. False, untouched, when ``target`` exists."""
    if target.exists():
        return False
    values = {
        "KONVERGENSI_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "KONVERGENSI_LANDING_DIR": LOCAL_LANDING_DIR,
    }
    lines = []
    for line in example.read_text(encoding="utf-8").splitlines():
        match = re.match(r"([A-Z_][A-Z0-9_]*)=", line)
        if match and match.group(1) in values:
            line = f"{match.group(1)}={values[match.group(1)]}"
        elif match:
            # `dagster dev` lets the file win over the shell: set nothing the operator did not ask for.
            line = f"# {line}"
        lines.append(line)
    # Created exclusively and owner-only: the file holds a secret.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    (target.parent / LOCAL_LANDING_DIR).mkdir(exist_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0] if argv else ".").resolve()
    target = root / ENV_FILE
    if not write_dev_env(target, root / ".env.example"):
        print(f"{target} exists: left as it is (delete it to make a new one)", file=sys.stderr)
        return 0
    print(f"wrote {target}: a new KONVERGENSI_PSEUDONYM_KEY (keep it: changing it needs `konvergensi rotate-key`), "
          f"landing folder {root / LOCAL_LANDING_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
