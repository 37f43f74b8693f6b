#!/bin/sh
# Copy xterm.js and its fit addon from npm into the console's static folder (src/cumulo/console/static/vendor/xterm).
# Usage: scripts/vendor-xterm.sh [XTERM_VERSION] [FIT_VERSION]
set -eu
XTERM=${1:-6.0.0}
FIT=${2:-0.11.0}
DEST=$(cd "$(dirname "$0")/.." && pwd)/src/cumulo/console/static/vendor/xterm
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "@xterm/xterm@$XTERM" "@xterm/addon-fit@$FIT" >/dev/null
mkdir x f
tar xzf xterm-xterm-"$XTERM".tgz -C x
tar xzf xterm-addon-fit-"$FIT".tgz -C f
cp x/package/lib/xterm.mjs x/package/css/xterm.css "$DEST"/
cp x/package/LICENSE "$DEST"/LICENSE
cp f/package/lib/addon-fit.mjs "$DEST"/
cp f/package/LICENSE "$DEST"/LICENSE.addon-fit
sed -i '/sourceMappingURL/d' "$DEST"/xterm.mjs "$DEST"/addon-fit.mjs
echo "xterm $XTERM and addon-fit $FIT copied to $DEST"
