#!/usr/bin/env bash
# e2e_browser.sh — the web page in headless Chromium: serves a model of
# MovieLens 100K with the page from web/, then tests/browser/page_test.js
# searches, rates 5 films and expects 10 recommendations. The screenshot is
# kept as the test's artifact: <build folder>/artifacts/e2e_browser.png.
# Needs Debian's chromium and node, and playwright-core in
# tests/browser/node_modules (scripts/deps installs all three). Without them
# it reports skipped (77), unless FL_REQUIRE_BROWSER=1 (scripts/test sets it).
# Usage: bash tests/e2e_browser.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_browser.sh /path/to/factorlens}
HERE=$(cd "$(dirname "$0")" && pwd)
export FACTORLENS_DATA=${FACTORLENS_DATA:-$HERE/../../shared/data}
D=$FACTORLENS_DATA/ml-100k
ART=$(cd "$(dirname "$BIN")" && pwd)/artifacts
T=$(mktemp -d)
# shellcheck source=serve/server_lib.sh
. "$HERE/serve/server_lib.sh"
trap 'stop_server; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$T/server.log" ] && tail -20 "$T/server.log" >&2; exit 1; }

missing=""
command -v node >/dev/null || missing="$missing node"
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing="$missing chromium"
[ -d "$HERE/browser/node_modules/playwright-core" ] || missing="$missing playwright-core (npm ci --prefix tests/browser)"
if [ -n "$missing" ]; then
    [ "${FL_REQUIRE_BROWSER:-0}" = 1 ] && fail "missing:$missing (scripts/deps installs them)"
    echo "skipped: missing$missing (scripts/deps installs them)"
    exit 77
fi
for f in u1.base u.item; do
    [ -r "$D/$f" ] || fail "missing $D/$f: set FACTORLENS_DATA to the folder holding ml-100k/"
done

"$BIN" train --ratings "$D/u1.base" --factors 32 --epochs 20 --threads 2 --quiet \
    --out "$T/m.flm" >/dev/null || fail "training"
start_server "$T/m.flm" --items "$D/u.item" --threads 2 --web "$HERE/../web" ||
    fail "starting the server"
mkdir -p "$ART"
timeout 120 node "$HERE/browser/page_test.js" "http://127.0.0.1:$PORT/" "$ART/e2e_browser.png" ||
    fail "the page test"
[ -s "$ART/e2e_browser.png" ] || fail "no screenshot"
echo "PASS e2e_browser (screenshot: $ART/e2e_browser.png)"
