#!/bin/sh
# Copy noVNC's ES modules (core/ and its pako copy) from npm into the console's static folder
# (src/cumulo/console/static/vendor/novnc), with their licences: the console loads them on demand and
# needs no build step and no network at run time.
# Usage: scripts/vendor-novnc.sh [VERSION]
set -eu
VERSION=${1:-1.7.0}
DEST=$(cd "$(dirname "$0")/.." && pwd)/src/cumulo/console/static/vendor/novnc
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
npm pack --silent "@novnc/novnc@$VERSION" >/dev/null
tar xzf novnc-novnc-"$VERSION".tgz
rm -rf "$DEST/core" "$DEST/vendor"
mkdir -p "$DEST/vendor"
cp -r package/core "$DEST"/core
cp -r package/vendor/pako "$DEST"/vendor/pako
cp package/LICENSE.txt "$DEST"/LICENSE.txt
cp package/docs/LICENSE.MPL-2.0 package/docs/LICENSE.BSD-2-Clause package/AUTHORS "$DEST"/
find "$DEST" -name '*.js' -exec sed -i '/sourceMappingURL/d' {} +
echo "noVNC $VERSION copied to $DEST"
