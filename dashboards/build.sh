#!/usr/bin/env bash
# Build the static dashboard (dashboards/build/) from a published warehouse file.
#
#   bash dashboards/build.sh [WAREHOUSE]
#
# WAREHOUSE: the published DuckDB file (argument, else $KONVERGENSI_WAREHOUSE, the pipeline's published file, else the demo's
# demo_data/warehouse/banten.duckdb). Relative paths are relative to the repository root.
#
# Steps: `npm ci` when node_modules is missing or package-lock.json changed since the last install;
# a snapshot of the warehouse (a hard link, or a copy where linking is refused) so that every query
# of one build reads the same version even if the pipeline publishes meanwhile (a publish renames a
# new file in, it never writes the old one); `evidence sources` (the SQL in sources/konvergensi,
# run by DuckDB opened READ_ONLY) and `evidence build:strict` (fails on any page query error).
# Telemetry is off (evidence.settings.json and SEND_ANONYMOUS_USAGE_STATS=no).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SOURCE_NAME=konvergensi
SNAPSHOT_DIR="$HERE/.evidence/snapshot"
SNAPSHOT="$SNAPSHOT_DIR/banten.duckdb"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "dashboard: $*"; }

started="$(now)"
warehouse="${1:-${KONVERGENSI_WAREHOUSE:-demo_data/warehouse/banten.duckdb}}"
case "$warehouse" in /*) ;; *) warehouse="$ROOT/$warehouse" ;; esac
if [ ! -f "$warehouse" ] || [ ! -r "$warehouse" ]; then
  say "no readable warehouse at $warehouse (run \`make demo\`, or pass the published file)" >&2
  exit 2
fi
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is not installed (Node 18.13+ is needed)" >&2; exit 2; }
done

cd "$HERE"
export SEND_ANONYMOUS_USAGE_STATS=no
export NPM_CONFIG_UPDATE_NOTIFIER=false

# 1. Dependencies, exactly as locked.
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp=node_modules/.konvergensi-lock.sha256
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  step="$(now)"
  npm ci --no-audit --no-fund
  echo "$lock_sum" > "$stamp"
  say "npm ci took $(since "$step") s ($(du -sh node_modules | cut -f1) in node_modules)"
else
  say "node_modules matches package-lock.json, npm ci skipped"
fi

# 2. One version of the published file for the whole build.
mkdir -p "$SNAPSHOT_DIR"
rm -f "$SNAPSHOT" "$SNAPSHOT.wal"
trap 'rm -f "$SNAPSHOT" "$SNAPSHOT.wal"' EXIT
if ln "$warehouse" "$SNAPSHOT" 2>/dev/null; then how=hard-linked; else cp "$warehouse" "$SNAPSHOT"; how=copied; fi
say "warehouse $warehouse ($how to .evidence/snapshot/)"
# Relative to sources/konvergensi/: @evidence-dev/duckdb joins the source folder with the filename.
export "EVIDENCE_SOURCE__${SOURCE_NAME}__filename=../../.evidence/snapshot/banten.duckdb"

# 3. Sources: run the SQL against the snapshot into Parquet; then the static site.
rm -rf build .evidence/template/static/data
step="$(now)"
./node_modules/.bin/evidence sources --strict
say "evidence sources took $(since "$step") s"
step="$(now)"
./node_modules/.bin/evidence build:strict
say "evidence build took $(since "$step") s"

# What the pages were built from, for readers and the browser test.
node -e '
const fs = require("fs");
const [warehouse, snapshot] = process.argv.slice(1);
const st = fs.statSync(snapshot);
fs.writeFileSync("build/build-info.json", JSON.stringify({
  warehouse, bytes: st.size, modified: st.mtime.toISOString(), built_at: new Date().toISOString()
}, null, 1) + "\n");
' "$warehouse" "$SNAPSHOT"
say "static pages in $HERE/build ($(du -sh build | cut -f1)); total $(since "$started") s"
