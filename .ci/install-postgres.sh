#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for tests/bi/test_lake.py (the DuckLake catalog). The
# test starts its own server in a temporary folder; nothing here starts one. Idempotent, and never
# fails the CI: without the binaries that test skips, naming why.
set -u

if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "install-postgres: server binaries present ($(ls /usr/lib/postgresql/*/bin/initdb | tail -1))"
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" postgresql "the lake test"
