#!/usr/bin/env bash
# accuracy.sh — factorlens with its default settings against a PyTorch re-implementation
# of the fastai lesson recipe (bench/peer_fastai.py) on the same MovieLens files and
# splits. Prints test RMSE/MSE and seconds of both, and the ratio of seconds.
#
# Also factorlens's fm and svdpp models (issue 16), which have no peer here.
#
# Usage: bench/accuracy.sh [path/to/factorlens]      (default: build/factorlens)
# Environment: FACTORLENS_DATA (default: as scripts/data-dir finds it), PEER_PYTHON
# (default /usr/bin/python3, needs torch and numpy), FL_BENCH_SPLIT (the fl-bench-split
# helper; default bench/fl-bench-split next to the binary), FL_BENCH_NO_PEER=1 to skip
# the peer, FL_BENCH_KEEP=1 to keep the work directory with every JSON log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
fl=${1:-$repo/build/factorlens}
data=$("$repo/scripts/data-dir") || exit 1
py=${PEER_PYTHON:-/usr/bin/python3}
split=${FL_BENCH_SPLIT:-$(dirname "$fl")/bench/fl-bench-split}
peer=$([ "${FL_BENCH_NO_PEER:-0}" = 1 ] && echo 0 || echo 1)

die() { echo "accuracy.sh: $*" >&2; exit 1; }
[ -x "$fl" ] || die "no factorlens binary at $fl (pass its path as the first argument)"
[ -x "$split" ] || die "no split helper at $split: build it with 'cmake --build BUILD --target bench'"
[ -f "$data/ml-100k/u1.base" ] || die "no ml-100k under $data (set FACTORLENS_DATA)"
[ -f "$data/ml-latest-small/ratings.csv" ] || die "no ml-latest-small under $data"
if [ "$peer" = 1 ]; then
    "$py" -c 'import torch, numpy' 2>/dev/null || die "$py lacks torch/numpy (set PEER_PYTHON or FL_BENCH_NO_PEER=1)"
fi

work=$(mktemp -d /tmp/fl-accuracy.XXXXXX)
if [ "${FL_BENCH_KEEP:-0}" = 1 ]; then echo "logs in $work" >&2; else trap 'rm -rf "$work"' EXIT; fi
rows=$work/rows.tsv
: >"$rows"

# The last line of --json output is the run's summary.
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# fl NAME ARGS...: one factorlens run; prints "rmse mse seconds".
fl_run() {
    local name=$1; shift
    "$fl" train "$@" --json --quiet >"$work/$name.fl.json" || die "factorlens failed on $name"
    local last; last=$(tail -n 1 "$work/$name.fl.json")
    echo "$(field "$last" test_rmse) $(field "$last" test_mse) $(field "$last" seconds)"
}

# peer_run NAME TRAIN TEST MODEL: prints "rmse mse seconds", or "- - -" without a peer.
peer_run() {
    if [ "$peer" = 0 ]; then echo "- - -"; return; fi
    "$py" "$here/peer_fastai.py" --train "$2" --test "$3" --model "$4" >"$work/$1.peer.json" ||
        die "peer failed on $1"
    local last; last=$(tail -n 1 "$work/$1.peer.json")
    echo "$(field "$last" test_rmse) $(field "$last" test_mse) $(field "$last" seconds)"
}

row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$rows"; }

echo "factorlens: $fl ($("$fl" --version 2>/dev/null || echo '?')); data: $data" >&2

# ml-100k: the five canonical folds, biased model with every default.
d=$data/ml-100k
for k in 1 2 3 4 5; do
    echo "ml-100k u$k ..." >&2
    f=$(fl_run "u$k-biased" --ratings "$d/u$k.base" --test "$d/u$k.test")
    p=$(peer_run "u$k-dot" "$d/u$k.base" "$d/u$k.test" dot)
    row "ml-100k u$k" "biased sgd / dot" "$f" "$p"
done
# The other solvers, for the record (no peer of their own).
for s in adam als; do
    echo "ml-100k u1 --solver $s ..." >&2
    row "ml-100k u1" "biased $s" "$(fl_run "u1-$s" --ratings "$d/u1.base" --test "$d/u1.test" --solver "$s")" "- - -"
done

# ml-latest-small: factorlens's own 80/20 holdout (seed 42), written to files by the
# split helper so the peer sees the same ratings; factorlens is run both ways and the
# two must agree.
echo "ml-latest-small holdout ..." >&2
r=$data/ml-latest-small/ratings.csv
"$split" "$r" "$work/mls.train.tsv" "$work/mls.test.tsv" 0.2 42 || die "split helper failed"
for m in biased nn; do
    pm=$([ "$m" = biased ] && echo dot || echo nn)
    f=$(fl_run "mls-$m" --ratings "$r" --holdout 0.2 --seed 42 --model "$m")
    f2=$(fl_run "mls-$m-files" --ratings "$work/mls.train.tsv" --test "$work/mls.test.tsv" --model "$m")
    if [ "${f% *}" != "${f2% *}" ]; then
        echo "WARNING: --holdout 0.2 --seed 42 gave '${f% *}' but the split files gave '${f2% *}' ($m)" >&2
    else
        echo "check: --holdout 0.2 --seed 42 and the split files agree ($m: ${f% *})" >&2
    fi
    p=$(peer_run "mls-$pm" "$work/mls.train.tsv" "$work/mls.test.tsv" "$pm")
    row "ml-latest-small 80/20" "$m / $pm" "$f" "$p"
done

# Issue 16: factorization machines and SVD++ by Gibbs sampling (--solver mcmc, the
# default for fm and svdpp), every default; libFM's MCMC (k=32, 200 samples) with the
# same information scored 0.8952 on u1.
echo "ml-100k u1 fm mcmc with u.user, u.item, --implicit ..." >&2
row "ml-100k u1" "fm mcmc +u.user +u.item --implicit" \
    "$(fl_run u1-fm --ratings "$d/u1.base" --test "$d/u1.test" --model fm --solver mcmc \
        --user-features "$d/u.user" --item-features "$d/u.item" --implicit)" "- - -"
for k in 1 2 3 4 5; do
    echo "ml-100k u$k svdpp ..." >&2
    row "ml-100k u$k" "svdpp mcmc" \
        "$(fl_run "u$k-svdpp" --ratings "$d/u$k.base" --test "$d/u$k.test" --model svdpp)" "- - -"
done
echo "ml-latest-small holdout fm mcmc with movies.csv, --implicit ..." >&2
row "ml-latest-small 80/20" "fm mcmc +movies.csv --implicit" \
    "$(fl_run mls-fm --ratings "$r" --holdout 0.2 --seed 42 --model fm \
        --item-features "$data/ml-latest-small/movies.csv" --implicit)" "- - -"

python3 - "$rows" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
def num(s):
    return None if s == "-" else float(s)
out = []
for ds, model, f, p in rows:
    fr, fm, fs = map(num, f.split()); pr, pm, ps = map(num, p.split())
    out.append((ds, model, fr, fm, fs, pr, pm, ps))
for prefix in ("biased sgd", "svdpp"):
    folds = [r for r in out if r[0].startswith("ml-100k u") and r[1].startswith(prefix)]
    if len(folds) == 5:
        mean = lambda k: None if any(r[k] is None for r in folds) else statistics.mean(r[k] for r in folds)
        at = out.index(folds[-1]) + 1
        out.insert(at, ("ml-100k u1..u5 mean", folds[0][1]) + tuple(mean(k) for k in range(2, 8)))
def f(v, d):
    return "-" if v is None else f"{v:.{d}f}"
print("| dataset | model (factorlens / peer) | factorlens RMSE | factorlens MSE | factorlens s | peer RMSE | peer MSE | peer s | peer s / factorlens s |")
print("|---|---|---|---|---|---|---|---|---|")
for ds, model, fr, fm, fs, pr, pm, ps in out:
    ratio = "-" if ps is None or not fs else f"{ps / fs:.1f}"
    print(f"| {ds} | {model} | {f(fr,4)} | {f(fm,4)} | {f(fs,2)} | {f(pr,4)} | {f(pm,4)} | {f(ps,2)} | {ratio} |")
EOF
