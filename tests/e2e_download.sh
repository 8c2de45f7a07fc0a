#!/usr/bin/env bash
# e2e_download.sh BIN — `factorlens download` against a local HTTP server that
# serves zips built from the real ml-100k files: a good archive lands verified
# in --cache-dir (plain and --json output), broken archives and network errors
# give the documented exit codes and leave the cache empty, and a cached copy
# is served with the server stopped.
set -u
BIN=${1:?usage: e2e_download.sh path/to/factorlens}
TESTS=${FL_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
DATA=${FACTORLENS_DATA:-$TESTS/../../shared/data}
if [ ! -f "$DATA/ml-100k/u.data" ]; then
    echo "FAIL: no ml-100k under '$DATA' (set FACTORLENS_DATA)" >&2
    exit 1
fi
unset FACTORLENS_DATA XDG_CACHE_HOME http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
export no_proxy=127.0.0.1,localhost

WORK=$(mktemp -d /tmp/fl_e2e_download_XXXXXX)
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

python3 "$TESTS/download/make_zips.py" "$DATA" "$WORK/www" || { echo "FAIL: make_zips.py" >&2; exit 1; }
python3 "$TESTS/download/serve.py" "$WORK/www" >"$WORK/port" &
SERVER=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(head -n1 "$WORK/port")
[ -n "$PORT" ] || { echo "FAIL: the test HTTP server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT"

# run NAME CACHE BASE [extra args]: sets RC, OUT, ERR
run() {
    local name=$1 cache=$2 base=$3
    shift 3
    "$BIN" download "$name" --cache-dir "$cache" --base-url "$base" "$@" >"$WORK/out" 2>"$WORK/err"
    RC=$?
    OUT=$(cat "$WORK/out")
    ERR=$(cat "$WORK/err")
}
empty_dir() { [ -d "$1" ] && [ -z "$(ls -A "$1")" ] || [ ! -e "$1" ]; }

# A good archive: the directory is printed, its files match the originals.
C="$WORK/cache-good"
run ml-100k "$C" "$URL/good"
if [ "$RC" = 0 ] && [ "$OUT" = "$C/ml-100k" ] && cmp -s "$C/ml-100k/u.data" "$DATA/ml-100k/u.data" &&
    cmp -s "$C/ml-100k/u.item" "$DATA/ml-100k/u.item" && [ "$(ls -A "$C")" = ml-100k ] &&
    [ ! -e "$C/ml-100k/allbut.pl" ] && (cd "$C/ml-100k" && sha256sum --quiet -c .factorlens-verified); then
    pass "good archive unpacked and verified"
else
    fail "good archive: rc=$RC out='$OUT' err='$ERR'"
fi

# --json on a fresh cache.
C2="$WORK/cache-json"
run ml-latest-small "$C2" "$URL/good" --json
if [ "$RC" = 0 ] && python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["name"] == "ml-latest-small", j
assert j["dir"] == sys.argv[2], j
' "$OUT" "$C2/ml-latest-small" && cmp -s "$C2/ml-latest-small/ratings.csv" "$DATA/ml-latest-small/ratings.csv"; then
    pass "--json names the directory"
else
    fail "--json: rc=$RC out='$OUT' err='$ERR'"
fi

# Broken archives: exit 4 (bad input data), nothing left behind.
for variant in corrupt truncated wrongsize evil; do
    CB="$WORK/cache-$variant"
    run ml-100k "$CB" "$URL/$variant"
    if [ "$RC" = 4 ] && empty_dir "$CB" && [ -n "$ERR" ]; then
        pass "$variant archive refused"
    else
        fail "$variant archive: rc=$RC err='$ERR' cache: $(ls -A "$CB" 2>/dev/null)"
    fi
done
case "$ERR" in *escaped*) ;; *) fail "escaping entry not named: $ERR" ;; esac
run ml-100k "$WORK/cache-corrupt" "$URL/corrupt"
case "$ERR" in *"u.data has SHA-256"*corrupt*) pass "corrupt message names the file" ;;
    *) fail "corrupt message: $ERR" ;; esac

# HTTP 404: a network error, exit 1.
run ml-100k "$WORK/cache-404" "$URL/nothing-here"
if [ "$RC" = 1 ] && empty_dir "$WORK/cache-404" && [[ "$ERR" == *404* ]]; then
    pass "HTTP 404 refused"
else
    fail "404: rc=$RC err='$ERR'"
fi

# Unknown dataset: usage error listing the known names.
run ml-1t "$WORK/cache-unknown" "$URL/good"
if [ "$RC" = 2 ] && [[ "$ERR" == *ml-100k* ]] && [[ "$ERR" == *ml-latest-small* ]]; then
    pass "unknown dataset refused"
else
    fail "unknown dataset: rc=$RC err='$ERR'"
fi

# Stop the server: the cache still answers, a fresh cache cannot.
kill "$SERVER"; wait "$SERVER" 2>/dev/null; SERVER=
run ml-100k "$C" "$URL/good"
if [ "$RC" = 0 ] && [ "$OUT" = "$C/ml-100k" ]; then
    pass "cached copy served offline"
else
    fail "offline cache: rc=$RC out='$OUT' err='$ERR'"
fi
run ml-100k "$WORK/cache-dead" "$URL/good"
if [ "$RC" = 1 ] && empty_dir "$WORK/cache-dead" && [[ "$ERR" == *"cannot download $URL/good/ml-100k.zip"* ]] &&
    [[ "$ERR" == *offline* ]]; then
    pass "unreachable server reported"
else
    fail "unreachable: rc=$RC err='$ERR'"
fi
# ...with what to do instead: the two ways to give local files, and the cache.
if [[ "$ERR" == *"FACTORLENS_DATA=DIR"* ]] && [[ "$ERR" == *"--data DIR"* ]] &&
    [[ "$ERR" == *"$WORK/cache-dead/ml-100k"* ]] && [ "$(wc -l <"$WORK/err")" = 1 ]; then
    pass "unreachable server: the message says how to use local files"
else
    fail "unreachable: no hint at FACTORLENS_DATA, --data and the cache in one line: '$ERR'"
fi

# $FACTORLENS_DATA wins over cache and network.
OUT=$(FACTORLENS_DATA="$DATA" "$BIN" download ml-100k --cache-dir "$WORK/cache-env" --base-url "$URL/good" 2>"$WORK/err")
RC=$?
if [ "$RC" = 0 ] && [ "$OUT" = "$DATA/ml-100k" ] && empty_dir "$WORK/cache-env"; then
    pass "FACTORLENS_DATA used without network"
else
    fail "FACTORLENS_DATA: rc=$RC out='$OUT' err='$(cat "$WORK/err")'"
fi

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed" >&2
    exit 1
fi
echo "all download checks passed"
