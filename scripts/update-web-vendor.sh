#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# update-web-vendor.sh [VERSION]: re-fetch the charting library of the web page (uPlot) from the
# npm registry with npm, check its integrity, and copy the minified files and the license into
# web/vendor/uplot/ with a manifest (package, version, integrity). Nothing else is downloaded;
# the page is served from the binary and never loads anything from the internet.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
version=${1:-$(sed -n 's/^version=//p' "$here/web/vendor/uplot/MANIFEST" 2>/dev/null || true)}
version=${version:-1.6.32}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
want=$(npm view "uplot@$version" dist.integrity)
(cd "$tmp" && npm pack --silent "uplot@$version" >/dev/null)
tgz=("$tmp"/uplot-*.tgz)
got="sha512-$(openssl dgst -sha512 -binary "${tgz[0]}" | base64 -w0)"
if [[ "$got" != "$want" ]]; then
    echo "update-web-vendor.sh: integrity mismatch for uplot@$version: $got != $want" >&2
    exit 1
fi
tar -xzf "${tgz[0]}" -C "$tmp"
out="$here/web/vendor/uplot"
mkdir -p "$out"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$out/"
cp "$tmp/package/LICENSE" "$out/LICENSE"
cat >"$out/MANIFEST" <<MAN
# The charting library of the web page, vendored by scripts/update-web-vendor.sh.
package=uplot
version=$version
integrity=$want
files=uPlot.iife.min.js uPlot.min.css LICENSE
MAN
echo "update-web-vendor.sh: uplot@$version in $out"
