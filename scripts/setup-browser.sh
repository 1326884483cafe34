#!/usr/bin/env bash
# Headless Chromium and its driver for the browser tests (tests/browser), from Debian's
# packages: nothing is downloaded by Selenium Manager or a browser installer. Idempotent: does
# nothing when both binaries are there. Needs root (CI runs as root) the first time.
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "setup-browser.sh: chromium/chromedriver missing; run as root or:" \
        "apt-get install -y chromium chromium-driver" >&2
    exit 1
fi
# dpkg takes a lock; wait for it (another install may be running) rather than fail.
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium chromium-driver
