#!/usr/bin/env bash
# e2e_out_of_core.sh — train --out-of-core trains the model the in-memory ALS
# trains (the same factors: eval gives the same RMSE to every digit), on
# ml-100k u1 with a budget so small that the file is read in many parts and
# solved in many blocks; and on 6M ratings (81 MB of text) out of core with
# --memory 4M its peak resident memory is lower than the in-memory run's by
# at least a third of the data's size (what remains is the program, the
# model and its lists of rated items, 4 bytes a rating); no row files are
# left behind. The memory case is skipped under ASan (its shadow memory
# makes resident sizes meaningless); the rest runs everywhere.
# Usage: bash tests/e2e_out_of_core.sh /path/to/factorlens
set -euo pipefail

BIN=${1:?usage: e2e_out_of_core.sh /path/to/factorlens}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "no executable at $BIN"
D=${FACTORLENS_DATA:-}
[ -f "$D/ml-100k/u1.base" ] || fail "no MovieLens data: set FACTORLENS_DATA (scripts/data-dir)"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
rmse_of() { "$BIN" eval "$1" --ratings "$2" --json 2>/dev/null | sed -E 's/.*"rmse":([^,]*),"mae":([^,]*),.*/\1 \2/'; }

ALS=(train --solver als --threads 1 --epochs 5 --factors 16)
U1=$D/ml-100k/u1.base
U1T=$D/ml-100k/u1.test
"$BIN" "${ALS[@]}" --ratings "$U1" --test "$U1T" --out mem.flm --quiet >/dev/null
mkdir work
"$BIN" "${ALS[@]}" --ratings "$U1" --test "$U1T" --out-of-core --memory 64K --work-dir work \
    --out ooc.flm --json >ooc.json
[ "$(rmse_of ooc.flm "$U1T")" = "$(rmse_of mem.flm "$U1T")" ] ||
    fail "out of core trained another model: $(rmse_of ooc.flm "$U1T") vs $(rmse_of mem.flm "$U1T")"
[ -z "$(ls work)" ] || fail "row files left in the work directory: $(ls work)"
[ "$(grep -c '"epoch":' ooc.json)" = 5 ] || fail "expected 5 epoch lines"
echo "ok: out of core (64 KiB at a time) on ml-100k u1: RMSE $(rmse_of ooc.flm "$U1T"), as in memory"

code=0
"$BIN" "${ALS[@]}" --ratings "$U1" --memory 1M >out 2>err || code=$?
[ "$code" = 2 ] && grep -q -- "--memory and --work-dir go with --out-of-core" err || fail "--memory alone: exit $code"

# Resident memory, not `ulimit -v` as tests/e2e_memory_limit.sh: OpenBLAS
# reserves a 128 MB buffer at its first Cholesky whatever the data, and
# loops in malloc when the address space is short, so a limit small enough
# to matter hangs either run instead of telling them apart; data large
# enough to dwarf that buffer would add minutes to CI.
if grep -qa __asan_init "$BIN"; then
    echo "skipped: the memory case (ASan's shadow memory makes resident sizes meaningless)"
    exit 0
fi
awk 'BEGIN { srand(11); for (k = 0; k < 6000000; k++) { u = k % 60000; i = int(rand() * 5000);
    print u "\t" (i * 7 + u % 7) "\t" (1 + (u + i) % 5) } }' >big.data
peak() { # peak KB ARGS...: runs the CLI, prints its peak resident memory in KiB
    python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=open("err", "w"))
sys.exit(r.returncode) if r.returncode else print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$BIN" "$@"
}
BIG=(train --solver als --threads 1 --epochs 1 --factors 8 --ratings big.data --duplicates keep --quiet)
data_kb=$(( $(stat -c %s big.data) / 1024 ))
mem_kb=$(peak "${BIG[@]}") || { cat err >&2; fail "in memory on big.data"; }
ooc_kb=$(peak "${BIG[@]}" --out-of-core --memory 4M --out big.flm) || { cat err >&2; fail "out of core on big.data"; }
[ -s big.flm ] || fail "no model written"
ls factorlens-ooc-* >/dev/null 2>&1 && fail "row files left beside the model"
[ "$mem_kb" -gt "$data_kb" ] || fail "in memory peaked at $mem_kb KiB, not above the data's $data_kb KiB: the test proves nothing"
[ $((mem_kb - ooc_kb)) -ge $((data_kb / 3)) ] ||
    fail "out of core peaked at $ooc_kb KiB against $mem_kb KiB in memory: less than a third of the data's $data_kb KiB saved"
echo "ok: 6M ratings ($data_kb KiB): peak resident $mem_kb KiB in memory, $ooc_kb KiB out of core (--memory 4M)"
