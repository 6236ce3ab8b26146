#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed at /usr/bin/chromium for the demo's browser tests
# (playwright-core drives it; `playwright install` cannot download browsers on these machines).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then exit 0; fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: /usr/bin/chromium is missing and apt-get is not available; install Chromium yourself" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "ensure-chromium: not root and no sudo: run 'apt-get install -y chromium' as root" >&2
    exit 1
  fi
fi

echo "ensure-chromium: installing chromium with apt-get (once)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update >&2
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends chromium >&2
test -x /usr/bin/chromium
