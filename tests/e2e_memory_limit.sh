#!/usr/bin/env bash
# e2e_memory_limit.sh — training estimates its memory before allocating: under
# `ulimit -v` too small for the model, it refuses with exit 1 and a sentence
# naming both sizes, and writes no model file.
# ASan reserves terabytes of address space and cannot start under ulimit -v,
# nor can valgrind: for such a binary the case reports as skipped (exit 77,
# ctest's SKIP_RETURN_CODE); it runs against the optimised build.
# Usage: bash tests/e2e_memory_limit.sh /path/to/factorlens
set -euo pipefail

BIN=${1:?usage: e2e_memory_limit.sh /path/to/factorlens}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "no executable at $BIN"
# (The binary is grepped, not `ldd | grep -q`: under pipefail, ldd killed by
# SIGPIPE made that check fail at random.)
if grep -qa __asan_init "$BIN" || [ "$(head -c 2 "$BIN")" = "#!" ]; then
    echo "skipped: $BIN is an ASan build or a wrapper, which cannot start under ulimit -v"
    exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
python3 -c "
for k in range(60000): print(f'{k}\t{k % 7001}\t{1 + k % 5}')" >wide.data
# 67001 rows x 4096 factors: about 1 GiB for the model, 2 GiB with the solver.
code=0
bash -c "ulimit -v 943718 && exec \"\$0\" train --ratings wide.data --factors 4096 --epochs 1 --out wide.flm" \
    "$BIN" >out 2>err || code=$?
[ "$code" = 1 ] || { cat err >&2; fail "exit code $code under ulimit -v, expected 1"; }
grep -q "GiB of memory but this process may use only 0.9 GiB (ulimit -v)" err ||
    { cat err >&2; fail "the refusal does not name both sizes"; }
[ "$(grep -vc '^factorlens: note:' err)" = 1 ] || { cat err >&2; fail "expected one error line"; }
[ ! -e wide.flm ] || fail "a refused training run wrote a model"
echo "ok: $(grep -v '^factorlens: note:' err)"
