#!/usr/bin/env bash
# Set-up for the test suite, run by the README's test command: Debian's chromium for tests/serve/test_browser.py
# (the web page of `motionkit serve` in a real headless browser, driven by Playwright's client; Playwright never
# downloads a browser). Installed with apt-get only when no Chromium is on PATH and we may (root on Debian, as CI
# is); otherwise it says what to run and the browser test skips locally (under CI, env CI set, it fails instead).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/test_setup.sh: no Chromium found; install Debian's chromium (apt-get install chromium) to run" \
        "the browser test, which skips without it." >&2
    exit 0
fi
echo "tools/test_setup.sh: installing Debian's chromium for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
