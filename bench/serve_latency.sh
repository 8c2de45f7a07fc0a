#!/usr/bin/env bash
# serve_latency.sh — latency of `factorlens serve` answering
# GET /v1/recommend?n=10 (random users), measured with wrk (Debian's wrk) on
# loopback, for two catalogues: ml-latest-small (9.7k items, biased, k=32)
# and a synthetic 1M-item catalogue at k=32 (fl-bench-catalog). For each:
#   latency: wrk with 1 connection (one request at a time) for DURATION s:
#            p50 / p99 of a single request;
#   load:    wrk with CONNECTIONS connections for LOAD_DURATION s: requests/s,
#            p50 / p99, and errors (socket errors + non-2xx replies), which must be 0.
# Prints a Markdown table for BENCHMARKS.md. Figures only mean something on a
# quiet machine: wrk and the server share its cores.
#
# Usage: bench/serve_latency.sh [BUILD_DIR]   (default build; builds --target bench_catalog)
# Environment (defaults in brackets): DURATION [10]  LOAD_DURATION [30]
#   CONNECTIONS [64]  WRK_THREADS [2]  SERVER_THREADS [2]  ITEMS [1000000]
#   TOPN_USERS [1000]: afterwards, fl-bench-topn times the library's top-n on the
#     synthetic catalogue without HTTP for this many random users (float scan and
#     compact scan index, 1 and 2 threads); 0 skips it
#   QUICK=1: a check that the script works (1 s runs, 20k synthetic items), no figures.
#   FACTORLENS_DATA: the folder holding ml-latest-small/
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build}
bin=$build/factorlens
duration=${DURATION:-10}
load_duration=${LOAD_DURATION:-30}
connections=${CONNECTIONS:-64}
wrk_threads=${WRK_THREADS:-2}
server_threads=${SERVER_THREADS:-2}
items=${ITEMS:-1000000}
topn_users=${TOPN_USERS:-1000}
if [ "${QUICK:-0}" = 1 ]; then duration=1; load_duration=1; items=20000; topn_users=20; fi
data=${FACTORLENS_DATA:?set FACTORLENS_DATA to the folder holding ml-latest-small/}/ml-latest-small

die() { echo "serve_latency.sh: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "needs wrk (apt-get install wrk)"
[ -x "$bin" ] || die "no $bin: build it first (scripts/build release)"
[ -r "$data/ratings.csv" ] || die "no $data/ratings.csv"
cmake --build "$build" --target bench_catalog bench_topn >/dev/null
work=$(mktemp -d /tmp/fl-serve-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

"$bin" train --ratings "$data/ratings.csv" --factors 32 --threads 2 --quiet --out "$work/small.flm" >/dev/null
"$build/bench/fl-bench-catalog" --items "$items" --factors 32 --out "$work/big.flm" >"$work/catalog.txt"

# serve MODEL ITEMS_ARG...: starts the server, sets pid and port.
serve() {
    "$bin" serve "$@" --port 0 --threads "$server_threads" 2>"$work/server.log" &
    pid=$!
    port=
    for _ in $(seq 1 600); do
        port=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/server.log" | head -n 1)
        [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || die "the server did not start: $(cat "$work/server.log")"
        sleep 0.1
    done
    die "the server did not say its port"
}

# run_wrk LABEL CONNECTIONS SECONDS: one wrk run; prints "rps p50 p99 errors".
run_wrk() {
    local out=$work/wrk-$1.txt
    wrk -t "$([ "$2" -lt "$wrk_threads" ] && echo "$2" || echo "$wrk_threads")" -c "$2" -d "${3}s" \
        --latency -s "$here/serve_users.lua" "http://127.0.0.1:$port/" >"$out"
    local rps p50 p99 errs
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p50=$(awk '$1 == "50%" {print $2}' "$out")
    p99=$(awk '$1 == "99%" {print $2}' "$out")
    errs=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
    echo "$rps $p50 $p99 $errs"
}

# bench NAME USER_PREFIX USER_FIRST USERS MODEL [--items FILE]
rows=()
notes=()
bench() {
    local name=$1
    export USER_PREFIX=$2 USER_FIRST=$3 USERS=$4
    shift 4
    serve "$@"
    python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=60).read()" \
        "http://127.0.0.1:$port/v1/recommend?user=${USER_PREFIX}${USER_FIRST}&n=10" ||
        die "$name: a first request failed"
    run_wrk "$name-warm" 1 1 >/dev/null
    read -r _ lp50 lp99 lerr <<<"$(run_wrk "$name-latency" 1 "$duration")"
    read -r rps p50 p99 err <<<"$(run_wrk "$name-load" "$connections" "$load_duration")"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
    [ "$lerr" = 0 ] && [ "$err" = 0 ] || die "$name: $lerr + $err failed requests (see $work/wrk-*.txt)"
    rows+=("| $name | $lp50 | $lp99 | $rps | $p50 | $p99 | $err |")
    # How the server searched: the compact scan index's size, or none.
    notes+=("$name: $(sed -n 's/.*factorlens: [^ ]* \(scan index for top-n lists: [0-9.]* MiB\).*/\1/p; s/.*factorlens: [^ ]* \(no scan index\).*/\1 (float scan)/p' "$work/server.log" | head -n 1)")
}

bench "ml-latest-small (9.7k items, k=32)" "" 1 610 "$work/small.flm" --items "$data/movies.csv"
n_big=$(sed -n 's/.*: \([0-9]*\) items.*/\1/p' "$work/catalog.txt")
n_users=$(sed -n 's/.*items, \([0-9]*\) users.*/\1/p' "$work/catalog.txt")
bench "synthetic ($n_big items, k=32)" u 0 "$n_users" "$work/big.flm"

echo
echo "GET /v1/recommend?n=10, random users; server --threads $server_threads; wrk -t $wrk_threads;"
echo "latency: 1 connection for ${duration} s; load: $connections connections for ${load_duration} s"
[ "${QUICK:-0}" = 1 ] && echo "(QUICK=1: a check of the script, not a measurement)"
echo
echo "| catalogue | p50 (1 conn) | p99 (1 conn) | req/s ($connections conn) | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${notes[@]}"
if [ "$topn_users" -gt 0 ]; then
    echo
    "$build/bench/fl-bench-topn" "$work/big.flm" --users "$topn_users"
fi
