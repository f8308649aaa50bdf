#!/usr/bin/env bash
# apt-get install of one Debian package for a test that skips without it:
#   bash .ci/apt-install.sh PACKAGE "what skips without it"
# Never fails the CI: without root (or passwordless sudo), apt-get or a reachable mirror, it warns
# and the test skips, so a broken mirror must not turn the whole build red.
set -u
PACKAGE=$1
SKIPS=$2
TAG="install-$PACKAGE"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "$TAG: WARNING not root and no passwordless sudo; $SKIPS will skip" >&2
    exit 0
  fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "$TAG: WARNING apt-get not found; $SKIPS will skip" >&2
  exit 0
fi

# env (not a prefix assignment) so the variable survives sudo.
if $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$PACKAGE"; then
  echo "$TAG: installed"
else
  echo "$TAG: WARNING installing $PACKAGE failed; $SKIPS will skip" >&2
fi
exit 0
