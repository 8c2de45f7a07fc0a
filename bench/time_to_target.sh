#!/usr/bin/env bash
# time_to_target.sh — the whole command, as a user runs it, against LIBMF's at its
# best: wall-clock of `factorlens train` (read the files, train, evaluate the test set
# after every epoch, save the model) and of LIBMF's `mf-train -p` (the same steps) until
# the test RMSE reaches 1.005 x the best RMSE LIBMF reaches in 20 iterations.
#
# For each data set and factor count: a probe run of 20 epochs of each side (LIBMF's
# SSE and AVX builds, at 2 threads) gives the per-epoch test RMSE, hence the target and
# the number of epochs each side needs to reach it (both use step sizes that do not
# depend on the epoch count: a run of E epochs passes through the same states as the
# first E of the probe). Then each side runs exactly that many epochs ROUNDS times,
# alternating, for every thread count, and the median wall time and the peak RSS
# (/usr/bin/time) are reported. The RMSE printed is the timed run's own final one.
#
# Data sets (synthetic, planted factors, fl-bench-speed --dump-text):
#   5M    5M ratings, ml-25m's shape (33k users x 12k items), rank 10, noise 0.5, zipf 0.5
#   25M   24.7M ratings, 500k users x 50k items, rank 10, noise 0.5, zipf 0.5
#   hard  5M ratings, ml-25m's shape, rank 40, noise 0.8, zipf 1.0: higher rank, more
#         noise and a stronger popularity skew, where convergence per epoch matters more
#
# Usage: LIBMF_SRC=DIR bench/time_to_target.sh [BUILD_DIR]   (default build)
# Environment: SETS [5M,hard,25M]  FACTORS [32,128]  THREADS [1,2]  ROUNDS [3]
#   LIBMF_SRC: a checkout of LIBMF (bench/build_libmf.sh pins the commit)
#   QUICK=1: a check that the script works (a 200k-rating set, 1 round), no figures.
# Figures only mean something on a quiet machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build}
bin=$build/factorlens
speed=$build/bench/fl-bench-speed
sets=${SETS:-5M,hard,25M}
factors=${FACTORS:-32,128}
threads=${THREADS:-1,2}
rounds=${ROUNDS:-3}
probe_epochs=20
if [ "${QUICK:-0}" = 1 ]; then sets=quick; factors=${FACTORS:-8}; rounds=1; fi

die() { echo "time_to_target.sh: $*" >&2; exit 1; }
[ -x "$bin" ] || die "no $bin: build it first (scripts/build release)"
[ -x "$speed" ] || die "no $speed: cmake --build $build --target bench"
[ -x /usr/bin/time ] || die "needs /usr/bin/time (apt-get install time)"
libmf=$("$here/build_libmf.sh") || die "could not build LIBMF (set LIBMF_SRC)"
work=$(mktemp -d /tmp/fl-ttt.XXXXXX)
trap 'rm -rf "$work"' EXIT

# make_set NAME: writes $work/NAME.train and $work/NAME.test.
make_set() {
    local shape
    case $1 in
    5M) shape=(--ratings 5M) ;;
    25M) shape=(--ratings 24.7M --users 500k --items 50k) ;;
    hard) shape=(--ratings 5M --rank 40 --noise 0.8 --zipf 1.0) ;;
    quick) shape=(--ratings 200k) ;;
    *) die "unknown set $1 (5M, 25M, hard)" ;;
    esac
    "$speed" "${shape[@]}" --dump-text "$work/$1" 2>/dev/null
}

# The test RMSE after each epoch, one per line.
fl_curve() { # train test k threads epochs
    "$bin" train --ratings "$1" --test "$2" --factors "$3" --threads "$4" --epochs "$5" \
        --json --out "$work/fl.flm" 2>/dev/null |
        sed -n 's/.*"epoch":[0-9]*,.*"test_rmse":\([0-9.]*\).*/\1/p'
}
libmf_curve() { # mf-train train test k threads iterations
    "$1" -k "$4" -s "$5" -t "$6" -p "$3" "$2" "$work/libmf.model" 2>/dev/null |
        awk '$1 ~ /^[0-9]+$/ && NF >= 3 {print $3}'
}
# first_at CURVE_FILE TARGET: the 1-based epoch whose RMSE is <= TARGET, or 0.
first_at() { awk -v t="$2" '$1 <= t {print NR; found = 1; exit} END {if (!found) print 0}' "$1"; }

# timed OUT_PREFIX CMD...: runs CMD under /usr/bin/time; writes seconds and peak KB.
timed() {
    local out=$1
    shift
    /usr/bin/time -f "%e %M" -o "$out.time" "$@" >"$out.log" 2>&1 || die "failed: $*"
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "CPU: $cpu; commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
rows=$work/rows
: >"$rows"
IFS=, read -r -a set_list <<<"$sets"
IFS=, read -r -a k_list <<<"$factors"
IFS=, read -r -a t_list <<<"$threads"
for set in "${set_list[@]}"; do
    make_set "$set"
    tr=$work/$set.train te=$work/$set.test
    n_train=$(wc -l <"$tr")
    for k in "${k_list[@]}"; do
        # The probe: targets and epochs to reach them, at 2 threads.
        best=
        while read -r kind _ cli; do
            libmf_curve "$cli" "$tr" "$te" "$k" 2 "$probe_epochs" >"$work/curve.libmf-$kind"
            b=$(sort -g "$work/curve.libmf-$kind" | head -n 1)
            [ -n "$b" ] || die "LIBMF ($kind) printed no RMSE"
            best=$(printf '%s\n%s\n' "$best" "$b" | sed '/^$/d' | sort -g | head -n 1)
        done <<<"$libmf"
        target=$(awk -v b="$best" 'BEGIN {printf "%.6f", b * 1.005}')
        fl_curve "$tr" "$te" "$k" 2 "$probe_epochs" >"$work/curve.fl"
        fl_epochs=$(first_at "$work/curve.fl" "$target")
        fl_best=$(sort -g "$work/curve.fl" | head -n 1)
        echo "== $set k=$k: LIBMF's best RMSE in $probe_epochs iterations $best, target $target;" \
            "factorlens reaches it at epoch $fl_epochs (its best $fl_best)"
        for t in "${t_list[@]}"; do
            : >"$work/fl.times"
            while read -r kind _ cli; do : >"$work/libmf-$kind.times"; done <<<"$libmf"
            for ((r = 1; r <= rounds; r++)); do
                if [ "$fl_epochs" -gt 0 ]; then
                    timed "$work/fl" "$bin" train --ratings "$tr" --test "$te" --factors "$k" \
                        --threads "$t" --epochs "$fl_epochs" --out "$work/fl.flm"
                    cat "$work/fl.time" >>"$work/fl.times"
                    fl_rmse=$(sed -n 's/^test .*RMSE \([0-9.]*\).*/\1/p' "$work/fl.log")
                fi
                while read -r kind _ cli; do
                    it=$(first_at "$work/curve.libmf-$kind" "$target")
                    [ "$it" -gt 0 ] || continue
                    timed "$work/libmf-$kind" "$cli" -k "$k" -s "$t" -t "$it" -p "$te" "$tr" \
                        "$work/libmf.model"
                    echo "$(cat "$work/libmf-$kind.time") $it \
                        $(awk '$1 ~ /^[0-9]+$/ && NF >= 3 {v = $3} END {print v}' "$work/libmf-$kind.log")" \
                        >>"$work/libmf-$kind.times"
                done <<<"$libmf"
            done
            # LIBMF at its best: the build with the lower median time.
            lm_best= lm_s= lm_kb= lm_it= lm_rmse=
            while read -r kind _ cli; do
                [ -s "$work/libmf-$kind.times" ] || continue
                s=$(cut -d' ' -f1 "$work/libmf-$kind.times" | median)
                if [ -z "$lm_s" ] || awk -v a="$s" -v b="$lm_s" 'BEGIN {exit !(a < b)}'; then
                    lm_best=$kind lm_s=$s
                    lm_kb=$(cut -d' ' -f2 "$work/libmf-$kind.times" | sort -g | tail -n 1)
                    lm_it=$(awk 'NR == 1 {print $3}' "$work/libmf-$kind.times")
                    lm_rmse=$(awk 'NR == 1 {print $4}' "$work/libmf-$kind.times")
                fi
            done <<<"$libmf"
            if [ "$fl_epochs" -gt 0 ]; then
                fl_s=$(cut -d' ' -f1 "$work/fl.times" | median)
                fl_kb=$(cut -d' ' -f2 "$work/fl.times" | sort -g | tail -n 1)
            else
                fl_s=- fl_kb=- fl_rmse=-
            fi
            echo "$set $k $t $n_train $target $fl_epochs $fl_s $fl_rmse $fl_kb ${lm_best:--} ${lm_it:--} ${lm_s:--} ${lm_rmse:--} ${lm_kb:--}" >>"$rows"
            echo "   threads $t: factorlens ${fl_s}s ($fl_epochs epochs, RMSE $fl_rmse, ${fl_kb} KB);" \
                "LIBMF ${lm_best:-none} ${lm_s:--}s (${lm_it:--} iterations, RMSE ${lm_rmse:--}, ${lm_kb:--} KB)"
        done
    done
done

echo
echo "| set | k | threads | target RMSE | factorlens: epochs | seconds | RMSE | peak MB | LIBMF (best build): iterations | seconds | RMSE | peak MB | time ratio | memory ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk '{
    mb = ($9 == "-") ? "-" : sprintf("%.0f", $9 / 1024)
    lmb = ($14 == "-") ? "-" : sprintf("%.0f", $14 / 1024)
    ratio = ($7 == "-" || $12 == "-") ? "-" : sprintf("%.2fx", $12 / $7)
    mratio = ($9 == "-" || $14 == "-") ? "-" : sprintf("%.2f", $9 / $14)
    printf "| %s (%s train) | %s | %s | %s | %s | %s s | %s | %s | %s (%s) | %s s | %s | %s | %s | %s |\n",
        $1, $4, $2, $3, $5, $6, $7, $8, mb, $11, $10, $12, $13, lmb, ratio, mratio
}' "$rows"
echo
echo "time ratio: LIBMF's seconds / factorlens's (above 1: factorlens is faster);"
echo "memory ratio: factorlens's peak RSS / LIBMF's (below 1: factorlens uses less)."
