#!/usr/bin/env bash
# The lock installs, and the fast core tests pass, on every other Python the project supports
# (3.12 and 3.13, beside the 3.11 that `make test` runs on). Each interpreter found (pyenv's, or
# python3.12 / python3.13 on PATH) gets a throwaway venv from requirements.lock; an interpreter that
# is not on the machine is reported and skipped. A failed install or test fails the CI.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  # The first candidate that really runs that version: pyenv's installs, then the PATH (a pyenv shim
  # answers `command -v python3.12` even when no 3.12 is selected, and then fails to run).
  local v=$1 candidate
  for candidate in "$HOME"/.pyenv/versions/"$v".*/bin/python "$(command -v "python$v" || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] \
        && "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))" 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

for v in 3.12 3.13; do
  if ! py=$(find_python "$v"); then
    echo "python-versions: no Python $v on this machine; skipped"
    continue
  fi
  venv=$(mktemp -d "/tmp/konvergensi-py$v-XXXXXX")
  start=$SECONDS
  "$py" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r requirements.lock
  "$venv/bin/python" -m pip install --quiet --no-deps -e .
  # this interpreter's build of the native workbook reader (one per Python version), so the core
  # tests compare it with calamine on this version too
  "$venv/bin/python" -m pipelines.parsing.native
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" tests/parsing tests/growth tests/sql_engine tests/test_structure.py
  echo "python-versions: $("$venv/bin/python" --version) installed the lock and passed the core tests in $((SECONDS - start)) s"
  rm -rf "$venv"
done
