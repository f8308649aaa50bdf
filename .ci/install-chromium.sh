#!/usr/bin/env bash
# Installs headless Chromium for tests/test_ui_browser.py. Idempotent, and never fails the CI:
# without Chromium that test skips, so a broken mirror must not turn the whole build red.
set -u

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
  echo "install-chromium: chromium already present ($(command -v chromium || echo /usr/bin/chromium))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-chromium: WARNING not root and no passwordless sudo; the browser test will skip" >&2
    exit 0
  fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: WARNING apt-get not found; the browser test will skip" >&2
  exit 0
fi

# env (not a prefix assignment) so the variable survives sudo.
if $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; then
  echo "install-chromium: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
else
  echo "install-chromium: WARNING installing chromium failed; the browser test will skip" >&2
fi
exit 0
