#!/usr/bin/env bash
# ranking.sh — the ranking protocol on ml-100k (u.data) and ml-latest-small
# (ratings.csv): each user's ratings split 75/25 at random (factorlens split
# --holdout-per-user 0.25 --seed 42), ials, bpr and the biased rating model
# trained with their defaults, every item a user did not rate in training
# ranked, metrics at k = 10 over the test users. Prints a markdown table:
# NDCG, precision, recall, MAP, hit rate and coverage at 10, training
# seconds (the model's own clock) and eval --ranking's wall seconds.
#
# Usage: bench/ranking.sh [path/to/factorlens]      (default: build/factorlens)
# Environment: FACTORLENS_DATA (default: as scripts/data-dir finds it),
# FL_BENCH_THREADS (default 0: all cores), FL_BENCH_SEED (default 42),
# FL_BENCH_QUICK=1 (one epoch per model: checks the script, figures meaningless).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
fl=${1:-$repo/build/factorlens}
data=$("$repo/scripts/data-dir") || exit 1
threads=${FL_BENCH_THREADS:-0}
seed=${FL_BENCH_SEED:-42}
quick=()
[ "${FL_BENCH_QUICK:-0}" = 1 ] && quick=(--epochs 1)

die() { echo "ranking.sh: $*" >&2; exit 1; }
[ -x "$fl" ] || die "no factorlens binary at $fl (pass its path as the first argument)"
[ -f "$data/ml-100k/u.data" ] || die "no ml-100k under $data (set FACTORLENS_DATA)"
[ -f "$data/ml-latest-small/ratings.csv" ] || die "no ml-latest-small under $data"
work=$(mktemp -d /tmp/fl-ranking.XXXXXX)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
echo "| data | model | NDCG@10 | precision@10 | recall@10 | MAP@10 | hit rate | coverage | train s | eval --ranking s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for set in "ml-100k:$data/ml-100k/u.data" "ml-latest-small:$data/ml-latest-small/ratings.csv"; do
    name=${set%%:*} file=${set#*:}
    "$fl" split --ratings "$file" --holdout-per-user 0.25 --seed "$seed" --out-prefix "$work/s" >/dev/null
    for model in ials bpr biased; do
        "$fl" train --ratings "$work/s.train" --model "$model" --seed "$seed" --threads "$threads" \
            "${quick[@]}" --quiet --json --out "$work/m.flm" | tail -1 >"$work/train.json"
        t0=$(now)
        "$fl" eval "$work/m.flm" --ratings "$work/s.test" --ranking -k 10 --threads "$threads" \
            --json >"$work/eval.json"
        t1=$(now)
        python3 - "$work/train.json" "$work/eval.json" "$name" "$model" "$t0" "$t1" <<'PY'
import json, sys
t, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
name, model, t0, t1 = sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6])
print("| %s | %s | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.2f | %.2f |" % (
    name, model, e["ndcg_at_k"], e["precision_at_k"], e["recall_at_k"], e["map_at_k"],
    e["hit_rate"], e["coverage"], t["seconds"], t1 - t0))
PY
    done
done
