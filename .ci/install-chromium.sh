#!/usr/bin/env bash
# Installs headless Chromium for the browser tests (tests/test_ui_browser.py, tests/bi/test_dashboard.py).
# Idempotent, and never fails the CI: without Chromium those tests skip.
set -u

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
  echo "install-chromium: chromium already present ($(command -v chromium || echo /usr/bin/chromium))"
  exit 0
fi
bash "$(dirname "$0")/apt-install.sh" chromium "the browser tests"
