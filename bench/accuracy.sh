#!/usr/bin/env bash
# accuracy.sh — factorlens's accuracy, with the peers on the same MovieLens files and
# splits, in four sections (FL_BENCH_SECTIONS, default all four):
#   lesson    factorlens with its default settings against a PyTorch re-implementation of
#             the fastai lesson recipe (bench/peer_fastai.py): test RMSE/MSE and seconds
#             of both, and the ratio of seconds;
#   models    factorlens's fm and svdpp models (issue 16) with every default: fm with
#             u.user, u.item and --implicit on ml-100k u1, svdpp on u1..u5 and their mean,
#             fm with movies.csv and --implicit on ml-latest-small's 80/20 holdout (the
#             libfm section has their peer);
#   coldstart the cold-start protocol (issue 16): train (default biased model) on ml-100k
#             u.data's users whose id is not a multiple of 10, then `eval --fold-in 5` on
#             the others (split by awk here, nothing committed): the fold-in's RMSE/MAE
#             beside the bias-only fallback's on the same ratings;
#   libfm     with LIBFM_SRC set (a checkout of srendle/libfm, bench/build_libfm.sh):
#             libFM's MCMC (-dim '1,1,32' -iter 200) with the side features and implicit
#             feedback of `train --model fm --solver mcmc --user-features u.user
#             --item-features u.item --implicit` (the users' rated items; and again with
#             each item's raters too), on ml-100k u1 and on ml-latest-small's
#             80/20 holdout (seed 42; movies.csv genres + implicit), as libFM's
#             block-structure input (bench/libfm_convert.py), its test RMSE and wall time
#             next to factorlens's fm on the same split. Both libFM builds run (its
#             Makefile's flags and -march=native); factorlens's rows say "-" when the
#             binary has no --model fm.
#
# Usage: bench/accuracy.sh [path/to/factorlens]      (default: build/factorlens)
# Environment: FACTORLENS_DATA (default: as scripts/data-dir finds it), PEER_PYTHON
# (default /usr/bin/python3, needs torch and numpy), FL_BENCH_SPLIT (the fl-bench-split
# helper; default bench/fl-bench-split next to the binary), FL_BENCH_NO_PEER=1 to skip
# the PyTorch peer, FL_BENCH_SECTIONS (e.g. "coldstart libfm"), LIBFM_SRC (and
# LIBFM_CACHE, see build_libfm.sh), FL_BENCH_KEEP=1 to keep the work directory with
# every JSON log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
fl=${1:-$repo/build/factorlens}
data=$("$repo/scripts/data-dir") || exit 1
py=${PEER_PYTHON:-/usr/bin/python3}
split=${FL_BENCH_SPLIT:-$(dirname "$fl")/bench/fl-bench-split}
peer=$([ "${FL_BENCH_NO_PEER:-0}" = 1 ] && echo 0 || echo 1)
sections=" ${FL_BENCH_SECTIONS:-lesson models coldstart libfm} "
want() { [[ $sections == *" $1 "* ]]; }
want lesson || peer=0

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

d=$data/ml-100k
if want lesson; then
# ml-100k: the five canonical folds, biased model with every default.
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
fi

# ---------------------------------------------------------------- fm and svdpp (issue 16)
if want models; then
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
r=$data/ml-latest-small/ratings.csv
echo "ml-latest-small holdout fm mcmc with movies.csv, --implicit ..." >&2
row "ml-latest-small 80/20" "fm mcmc +movies.csv --implicit" \
    "$(fl_run mls-fm --ratings "$r" --holdout 0.2 --seed 42 --model fm \
        --item-features "$data/ml-latest-small/movies.csv" --implicit)" "- - -"

fi

# ---------------------------------------------------------------- cold start
cs_rows=$work/coldstart.tsv
: >"$cs_rows"
if want coldstart; then
    echo "cold start: ml-100k, users whose id is a multiple of 10 folded in ..." >&2
    awk -F'\t' '$1 % 10 != 0' "$d/u.data" >"$work/cs.train"
    awk -F'\t' '$1 % 10 == 0' "$d/u.data" >"$work/cs.new"
    "$fl" train --ratings "$work/cs.train" --out "$work/cs.flm" --quiet >/dev/null ||
        die "factorlens failed to train the cold-start model"
    for n in 5; do
        "$fl" eval "$work/cs.flm" --ratings "$work/cs.new" --fold-in "$n" --json >"$work/cs.$n.json" ||
            die "eval --fold-in $n failed"
        python3 - "$work/cs.$n.json" >>"$cs_rows" <<'EOF'
import json, sys
j = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print("\t".join(str(j[k]) for k in ("fold_in", "n_users", "n", "rmse", "mae", "rmse_baseline", "mae_baseline")))
EOF
    done
fi

# ---------------------------------------------------------------- libFM, the FM peer
fm_rows=$work/libfm.tsv
: >"$fm_rows"
if want libfm && [ -n "${LIBFM_SRC:-}" ]; then
    builds=$("$here/build_libfm.sh") || die "build_libfm.sh failed"
    has_fm=0
    "$fl" train --help >"$work/train.help" 2>&1 || true
    grep -q -- '--user-features' "$work/train.help" && has_fm=1
    [ "$has_fm" = 1 ] || echo "note: $fl has no --model fm; its rows stay empty" >&2
    # libfm_case NAME WHAT TRAIN TEST CONVERT-OPTIONS...: libFM's RMSE and wall time, per build.
    libfm_case() {
        local name=$1 what=$2 train=$3 test=$4; shift 4
        local dir=$work/libfm-${name//[^a-z0-9]/_}${what//[^a-z0-9]/_}
        python3 "$here/libfm_convert.py" --train "$train" --test "$test" "$@" --out "$dir" ||
            die "libfm_convert.py failed on $name"
        local kind bin t0 t1
        while read -r kind bin; do
            for r in rel_user rel_item; do
                "$bin/convert" --ifile "$dir/$r.libfm" --ofilex "$dir/$r.x" --ofiley "$dir/$r.y" >/dev/null &&
                    "$bin/transpose" --ifile "$dir/$r.x" --ofile "$dir/$r.xt" >/dev/null ||
                    die "libFM's convert/transpose failed on $name $r"
            done
            echo "libFM ($kind) on $name ..." >&2
            t0=$(date +%s.%N)
            (cd "$dir" && "$bin/libFM" -task r -method mcmc -train train.libfm -test test.libfm \
                -relation rel_user,rel_item -dim '1,1,32' -iter 200 -seed 42 -out "pred.$kind.txt") \
                >"$dir/log.$kind.txt" 2>&1 </dev/null || die "libFM ($kind) failed on $name: $dir/log.$kind.txt"
            t1=$(date +%s.%N)
            python3 - "$dir/test.libfm" "$dir/pred.$kind.txt" "$t0" "$t1" "$name" "libFM ($kind build)$what" >>"$fm_rows" <<'EOF'
import math, sys
y = [float(l) for l in open(sys.argv[1]) if l.strip()]
p = [float(l) for l in open(sys.argv[2]) if l.strip()]
assert len(y) == len(p), (len(y), len(p))
rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(y, p)) / len(y))
print(f"{sys.argv[5]}\t{sys.argv[6]}\t{rmse}\t{float(sys.argv[4]) - float(sys.argv[3])}")
EOF
        done <<<"$builds"
    }
    # fm_case NAME ARGS...: factorlens's fm (MCMC) on the same split, at libFM's k and samples.
    fm_case() {
        local name=$1 f; shift
        if [ "$has_fm" = 1 ]; then
            f=$(fl_run "fm-${name//[^a-z0-9]/_}" "$@" --model fm --solver mcmc --implicit \
                --factors 32 --epochs 200)
            printf '%s\tfactorlens fm --solver mcmc --implicit --factors 32 --epochs 200\t%s\t%s\n' \
                "$name" "$(echo "$f" | cut -d' ' -f1)" "$(echo "$f" | cut -d' ' -f3)" >>"$fm_rows"
        else
            printf '%s\tfactorlens fm --solver mcmc\t-\t-\n' "$name" >>"$fm_rows"
        fi
    }
    # libFM with the users' rated items (the implicit feedback of SVD++), and with each
    # item's raters added as well, which factorlens's --implicit also gives an fm.
    fm_case "ml-100k u1" --ratings "$d/u1.base" --test "$d/u1.test" \
        --user-features "$d/u.user" --item-features "$d/u.item"
    libfm_case "ml-100k u1" "" "$d/u1.base" "$d/u1.test" \
        --users "$d/u.user" --items "$d/u.item" --implicit
    libfm_case "ml-100k u1" ", + item raters" "$d/u1.base" "$d/u1.test" \
        --users "$d/u.user" --items "$d/u.item" --implicit --implicit-items
    r=$data/ml-latest-small/ratings.csv
    [ -f "$work/mls.train.tsv" ] || "$split" "$r" "$work/mls.train.tsv" "$work/mls.test.tsv" 0.2 42 ||
        die "split helper failed"
    fm_case "ml-latest-small 80/20" --ratings "$work/mls.train.tsv" --test "$work/mls.test.tsv" \
        --item-features "$data/ml-latest-small/movies.csv"
    libfm_case "ml-latest-small 80/20" "" "$work/mls.train.tsv" "$work/mls.test.tsv" \
        --items "$data/ml-latest-small/movies.csv" --implicit
    libfm_case "ml-latest-small 80/20" ", + item raters" "$work/mls.train.tsv" "$work/mls.test.tsv" \
        --items "$data/ml-latest-small/movies.csv" --implicit --implicit-items
elif want libfm; then
    echo "note: LIBFM_SRC is not set: no libFM section (bench/build_libfm.sh says how)" >&2
fi

python3 - "$rows" "$cs_rows" "$fm_rows" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
cs = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
fm = [l.rstrip("\n").split("\t") for l in open(sys.argv[3])]
if cs:
    print("| cold start (ml-100k, new users: id a multiple of 10) | users | ratings scored | fold-in RMSE | fold-in MAE | bias-only RMSE | bias-only MAE | RMSE gain |")
    print("|---|---|---|---|---|---|---|---|")
    for n, users, cnt, rmse, mae, rb, mb in cs:
        print(f"| eval --fold-in {n} | {users} | {cnt} | {float(rmse):.4f} | {float(mae):.4f} | {float(rb):.4f} | {float(mb):.4f} | {float(rb) - float(rmse):.4f} |")
    print()
if fm:
    print("| dataset | FM, MCMC, k=32, 200 samples, side features + implicit | test RMSE | seconds (wall) |")
    print("|---|---|---|---|")
    for ds, who, rmse, secs in fm:
        r = "-" if rmse == "-" else f"{float(rmse):.4f}"
        s = "-" if secs == "-" else f"{float(secs):.1f}"
        print(f"| {ds} | {who} | {r} | {s} |")
    print()
if not rows:
    sys.exit(0)
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
