#!/usr/bin/env bash
# scale.sh — distributed ALS and SGD (DSGD) (train --distributed under
# mpirun) on 1, 2 and 4 processes of this machine: strong scaling (the same ratings on every
# process count) and weak scaling (ratings growing with the process count),
# with each run's median epoch seconds, the bytes sent between processes per
# epoch as the library counts them, and the communication model's prediction
# of those bytes (docs/capacity.md). The last table gives the per-process
# throughput docs/capacity.md's epoch-time estimates start from.
#
# Usage: bench/scale.sh [build/factorlens]
#   SCALE_N=4000000      ratings of the strong-scaling set (synthetic, see below)
#   SCALE_WEAK_N=1000000 ratings per process of the weak-scaling sets
#   SCALE_USERS=200000 SCALE_ITEMS=20000   ids of the strong set (weak: both times ranks)
#   SCALE_FACTORS=64 SCALE_EPOCHS=5 SCALE_RANKS="1 2 4" SCALE_THREADS=1
#   SCALE_SOLVERS="als sgd"  the solvers, each with its strong and weak rows
#   SCALE_RATINGS=FILE   a ratings file for the strong set instead (e.g. ml-25m's ratings.csv)
#   QUICK=1              tiny sets and 2 epochs: checks the script, measures nothing
# Every process gets SCALE_THREADS threads: with 4 processes x 1 thread on
# a 2-core machine the 4-process rows are oversubscribed and say so. Run it
# on an otherwise idle machine; nothing here asserts a time.
set -euo pipefail
BIN=${1:-build/factorlens}
[ -x "$BIN" ] || { echo "usage: bench/scale.sh path/to/factorlens" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "bench/scale.sh: needs mpirun (openmpi-bin)" >&2; exit 2; }
N=${SCALE_N:-4000000}
WEAK_N=${SCALE_WEAK_N:-1000000}
USERS=${SCALE_USERS:-200000}
ITEMS=${SCALE_ITEMS:-20000}
K=${SCALE_FACTORS:-64}
EPOCHS=${SCALE_EPOCHS:-5}
RANKS=${SCALE_RANKS:-1 2 4}
THREADS=${SCALE_THREADS:-1}
SOLVERS=${SCALE_SOLVERS:-als sgd}
if [ "${QUICK:-0}" = 1 ]; then
    N=20000 WEAK_N=5000 USERS=2000 ITEMS=500 K=8 EPOCHS=2
fi
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader} OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
export OMPI_MCA_rmaps_base_oversubscribe=1
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cores=$(nproc)

# Synthetic ratings: n ratings of users u0..uU, items i0..iI drawn with a
# skew (item popularity ~ rank^-0.8, users uniform), half stars 1..5.
synth() { # synth N USERS ITEMS SEED > file
    awk -v n="$1" -v nu="$2" -v ni="$3" -v seed="$4" 'BEGIN { srand(seed);
        for (k = 0; k < n; k++) { u = int(rand() * nu); i = int(ni * rand() ^ 2.2);
            r = 1 + int(rand() * 9) / 2; print "u" u "\ti" i "\t" r } }'
}
run() { # run SOLVER RANKS FILE -> one summary line: ranks n epoch_s bytes predicted most
    local solver=$1 np=$2 file=$3
    timeout 7200 mpirun -np "$np" "$BIN" train --distributed --solver "$solver" --model biased \
        --factors "$K" --epochs "$EPOCHS" --threads "$THREADS" --duplicates keep \
        --ratings "$file" --json >"$T/out.json" 2>"$T/err" || { cat "$T/err" >&2; exit 1; }
    python3 - "$T/out.json" "$np" <<'PY'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
epochs = [l["seconds"] for l in lines if "epoch" in l and "n_train" not in l]
s = lines[-1]
steady = epochs[1:] if len(epochs) > 1 else epochs  # the first epoch also touches every page
print(sys.argv[2], s["n_train"], statistics.median(steady), s["bytes_per_epoch"],
      s["bytes_per_epoch_predicted"], s["max_rank_ratings"])
PY
}

echo "# bench/scale.sh $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $cores cores;" \
     "k=$K, $EPOCHS epochs (median of epochs 2..), $THREADS thread(s) per process"
echo "# command: $0 $BIN (SCALE_N=$N SCALE_WEAK_N=$WEAK_N SCALE_FACTORS=$K SCALE_EPOCHS=$EPOCHS)"

if [ -n "${SCALE_RATINGS:-}" ]; then
    strong=$SCALE_RATINGS
else
    strong=$T/strong.tsv
    synth "$N" "$USERS" "$ITEMS" 1 >"$strong"
fi
echo
echo "| solver | scaling | processes | ratings | epoch s | speed-up | efficiency | MB/epoch measured | MB/epoch predicted | measured/predicted | most ratings on one process |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
# table_row SOLVER strong|weak PROCESSES RATINGS SECONDS BYTES PREDICTED MOST BASE CORES: one row.
table_row() {
    python3 -c "
import sys
solver, kind, r, n, sec, b, p, most, base, cores = sys.argv[1:]
r, n, sec, b, p, most, base, cores = int(r), int(n), float(sec), int(b), int(p), int(most), float(base), int(cores)
over = ' (oversubscribed)' if r > cores else ''
sec = max(sec, 1e-9)
ratio = f'{b / p:.2f}' if p else '–'
speedup = f'{base / sec:.2f}x' if kind == 'strong' else '–'
eff = base / sec / r if kind == 'strong' else base / sec
print(f'| {solver} | {kind} | {r}{over} | {n:,} | {sec:.3f} | {speedup} | {eff:.0%} | {b / 1e6:.2f} | {p / 1e6:.2f} | {ratio} | {most:,} |')
" "$@"
}

for solver in $SOLVERS; do
    base=""
    for np in $RANKS; do
        read -r r n sec bytes pred most < <(run "$solver" "$np" "$strong")
        [ -z "$base" ] && base=$sec
        table_row "$solver" strong "$r" "$n" "$sec" "$bytes" "$pred" "$most" "$base" "$cores"
    done
    base=""
    for np in $RANKS; do
        weak=$T/weak$np.tsv
        synth $((WEAK_N * np)) $((USERS * np * WEAK_N / N + 1)) $((ITEMS * np * WEAK_N / N + 1)) "$np" >"$weak"
        read -r r n sec bytes pred most < <(run "$solver" "$np" "$weak")
        [ -z "$base" ] && base=$sec
        table_row "$solver" weak "$r" "$n" "$sec" "$bytes" "$pred" "$most" "$base" "$cores"
        rm -f "$weak"
    done
done
echo
echo "Per-process throughput for docs/capacity.md (1 process, strong set):"
for solver in $SOLVERS; do
    read -r r n sec bytes pred most < <(run "$solver" 1 "$strong")
    python3 -c "
import sys
n, sec, k = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f'  {sys.argv[5]}: {n / sec / 1e6:.2f} M ratings per second per process at k={k} ({sys.argv[4]} thread(s)); '
      f'T_rating = {sec / n * 1e9:.1f} ns per rating per epoch')
" "$n" "$sec" "$K" "$THREADS" "$solver"
done
