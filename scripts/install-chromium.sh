#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (test/browser), which drive /usr/bin/chromium
# through playwright-core. Idempotent: does nothing when it is already there. Needs root (CI runs
# as root on Debian); a developer without it runs it with sudo, or the browser tests skip.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-chromium: run as root (sudo $0) to apt-get install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update && apt-get install -y chromium
