#!/usr/bin/env bash
# e2e_ranking.sh — `eval --ranking` on ml-100k (per-user holdout) against the
# independent numpy implementation in tests/reference/ranking_metrics.py, for
# each model kind that ranks, with and without --relevant-min and at two k;
# the same JSON on 1 and 2 threads; and the implicit models (ials, bpr) at the
# CLI: saved and served by recommend / similar / info, their test report is
# ranking metrics, eval's RMSE refuses them (exit 2), predict says it gives
# a preference score.
# Usage: bash tests/e2e_ranking.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_ranking.sh /path/to/factorlens}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -n "${FACTORLENS_DATA:-}" ] || { echo "skip: FACTORLENS_DATA is not set"; exit 77; }
D=$FACTORLENS_DATA/ml-100k
[ -r "$D/u.data" ] || { echo "skip: no ml-100k/u.data"; exit 77; }
# Debian's numpy lives with Debian's python (scripts/deps installs it); a
# python3 first on PATH (a virtualenv) may lack it.
PY=
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import numpy' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "FAIL: no python3 with numpy (scripts/deps installs python3-numpy)" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

"$BIN" split --ratings "$D/u.data" --holdout-per-user 0.25 --seed 11 --out-prefix "$T/s" >/dev/null

# compare NAME C-JSON REF-JSON: every metric equal within 1e-9 (both sides
# rank the same float32 model; the reference scores in float64, so only an
# exact near-tie could order differently).
compare() {
    "$PY" - "$2" "$3" <<'PY' || fail "$1: C and numpy reference differ"
import json, sys
c, r = (json.load(open(f)) for f in sys.argv[1:])
for k in ("k", "n_users", "precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "hit_rate", "coverage"):
    assert abs(c[k] - r[k]) <= 1e-9, (k, c[k], r[k])
PY
}

for model in ${FL_RANKING_MODELS:-biased dot ials bpr}; do
    "$BIN" train --ratings "$T/s.train" --model "$model" --epochs 5 --factors 16 --threads 2 --seed 3 \
        --quiet --out "$T/$model.flm" >/dev/null
    for opts in "-k 10" "-k 5 --relevant-min 4"; do
        # shellcheck disable=SC2086
        "$BIN" eval "$T/$model.flm" --ratings "$T/s.test" --ranking --json $opts --threads 2 >"$T/c.json"
        # shellcheck disable=SC2086
        "$PY" "$HERE/reference/ranking_metrics.py" "$T/$model.flm" "$T/s.train" "$T/s.test" $opts >"$T/r.json"
        compare "$model $opts" "$T/c.json" "$T/r.json"
    done
    "$BIN" eval "$T/$model.flm" --ratings "$T/s.test" --ranking --json --threads 1 >"$T/one.json"
    "$BIN" eval "$T/$model.flm" --ratings "$T/s.test" --ranking --json --threads 2 >"$T/two.json"
    cmp -s "$T/one.json" "$T/two.json" || fail "$model: 1 and 2 threads differ"
    pass "$model: eval --ranking matches the numpy reference; same on 1 and 2 threads"
done

# The implicit models at the CLI.
"$BIN" train --ratings "$T/s.train" --test "$T/s.test" --model ials --epochs 3 --factors 8 --threads 2 \
    --quiet --json --out "$T/i.flm" | tail -1 >"$T/ials.json"
"$PY" - "$T/ials.json" <<'PY' || fail "train --model ials: JSON lacks the ranking report"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["model"] == "ials" and j["test_rmse"] is None, j
assert j["rank_k"] == 10 and 0 < j["test_ndcg_at_k"] <= 1, j
PY
"$BIN" info "$T/i.flm" --json | grep -q '"kind": *"ials"' || fail "info does not name the ials kind"
"$BIN" recommend "$T/i.flm" --user 1 -n 5 --json >"$T/rec.json" || fail "recommend on an ials model"
"$PY" -c 'import json,sys; it = json.load(open(sys.argv[1]))["items"]; assert len(it) == 5 and all("score" in x and "rating" not in x for x in it), it' "$T/rec.json" ||
    fail "recommend --json of an ials model: $(cat "$T/rec.json")"
"$BIN" similar "$T/i.flm" --item 50 -n 5 >/dev/null || fail "similar on an ials model"
code=0; "$BIN" eval "$T/i.flm" --ratings "$T/s.test" 2>"$T/err" >/dev/null || code=$?
[ $code = 2 ] && grep -q "ranking" "$T/err" || fail "eval (RMSE) of an ials model: exit $code, $(cat "$T/err")"
"$BIN" predict "$T/i.flm" --user 1 --item 50 | grep -q "preference score" || fail "predict does not say it gives a score"
"$BIN" predict "$T/i.flm" --user 1 --item 50 --json | grep -q '"rating": *null' || fail "predict --json gives an ials score as a rating"
pass "ials at the CLI: ranking report, recommend, similar, info; RMSE refused, predict labelled"
