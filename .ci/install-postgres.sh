#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for tests/bi/test_lake.py (the DuckLake catalog). The
# test starts its own server in a temporary folder; nothing here starts one. Idempotent, and never
# fails the CI: without the binaries that test skips, naming why.
set -u

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "install-postgres: server binaries present ($(ls /usr/lib/postgresql/*/bin/initdb | tail -1))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-postgres: WARNING not root and no passwordless sudo; the lake test will skip" >&2
    exit 0
  fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-postgres: WARNING apt-get not found; the lake test will skip" >&2
  exit 0
fi

if $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; then
  echo "install-postgres: installed $(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | tail -1)"
else
  echo "install-postgres: WARNING installing postgresql failed; the lake test will skip" >&2
fi
exit 0
