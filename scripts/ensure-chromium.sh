#!/bin/sh
# Install the OS Chromium for the web console's browser tests (tests/console/): Playwright from PyPI
# drives /usr/bin/chromium headless (its own browser download cannot run here). Fonts come with it.
set -eu
here=$(dirname "$0")
[ -x /usr/bin/chromium ] && exit 0
echo "installing chromium for the console's browser tests (about a minute)" >&2
"$here/apt-get.sh" update -qq
"$here/apt-get.sh" install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
