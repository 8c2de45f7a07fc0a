#!/usr/bin/env bash
# e2e_memory_peak.sh — the whole `factorlens train` command (read, lay out,
# train, save) peaks near the size of its ratings: on 2M ratings (24 MB at 12
# bytes each) with few users, items and factors, the peak resident memory
# above the binary's own at startup stays under 1.3x the ratings. Before the
# duplicate check lost its per-rating line numbers and permutation, and SGD
# its second copy of the factors, this was 1.7x.
# ASan's shadow memory and valgrind inflate the resident set: for such a
# binary the case reports as skipped (exit 77); it runs against the
# optimised build.
# Usage: bash tests/e2e_memory_peak.sh /path/to/factorlens
set -euo pipefail

BIN=${1:?usage: e2e_memory_peak.sh /path/to/factorlens}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "no executable at $BIN"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
if grep -qa __asan_init "$BIN" || grep -qa __tsan_init "$BIN" || [ "$(head -c 2 "$BIN")" = "#!" ]; then
    echo "skipped: $BIN is a sanitizer build or a wrapper, whose memory is not the program's"
    exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
N=2000000
# 25,000 users with 80 ratings each, grouped by user as most exports are.
python3 -c "
import random
r = random.Random(7)
with open('peak.data', 'w') as f:
    for u in range(25000):
        f.write(''.join(f'{u}\t{i}\t{1 + (u + i) % 5}\n' for i in r.sample(range(4000), 80)))"
# Peak resident set of a command, in KiB (getrusage of the finished child).
peak() {
    python3 -c "
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)" "$@"
}
base=$(peak "$BIN" --version)
used=$(peak "$BIN" train --ratings peak.data --factors 8 --epochs 1 --threads 2 --quiet --out m.flm)
[ -s m.flm ] || fail "no model written"
ratio=$(python3 -c "print(f'{($used - $base) * 1024 / ($N * 12):.2f}')")
python3 -c "import sys; sys.exit(0 if $ratio <= 1.3 else 1)" ||
    fail "peak ${used} KiB (${base} KiB at startup) is ${ratio}x the ratings' 12 bytes each, expected <= 1.3x"
echo "ok: peak ${used} KiB, ${base} KiB at startup: ${ratio}x the ratings"
