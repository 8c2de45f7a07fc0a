#!/usr/bin/env bash
# e2e_split.sh — `factorlens split` writes the splits `train` makes: training
# on the written files gives the bit-identical model (per-user holdout on
# u.data, random holdout on ratings.csv with its header and commas, and k-fold
# test RMSEs), per-user fractions hold, and usage errors exit 2.
# Usage: bash tests/e2e_split.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_split.sh /path/to/factorlens}
[ -n "${FACTORLENS_DATA:-}" ] || { echo "skip: FACTORLENS_DATA is not set"; exit 77; }
D=$FACTORLENS_DATA/ml-100k
S=$FACTORLENS_DATA/ml-latest-small/ratings.csv
[ -r "$D/u.data" ] && [ -r "$S" ] || { echo "skip: no ml-100k/u.data or ml-latest-small"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# The data section of a model file (after the 8-byte length and the JSON
# header, which names the training file): the trained numbers and ids.
payload() {
    local n
    n=$(od -An -tu8 -N8 "$1" | tr -d ' ')
    tail -c +$((9 + n)) "$1" | sha256sum | cut -d' ' -f1
}
TRAIN=(--epochs 5 --factors 8 --threads 2 --quiet --json)

# Per-user holdout on u.data, tab-separated, no header.
"$BIN" split --ratings "$D/u.data" --holdout-per-user 0.25 --seed 7 --out-prefix "$T/u" >/dev/null
[ "$(head -1 "$T/u.train")" = "$(head -1 "$D/u.data")" ] || fail "u.train's first line differs from u.data's"
[ $(($(wc -l <"$T/u.train") + $(wc -l <"$T/u.test"))) = 100000 ] || fail "u.train + u.test != 100000 lines"
# Every user's test share is round(0.25 * their count), at most all but one.
awk -F'\t' 'FNR == NR { n[$1]++; next } { t[$1]++ }
    END { for (u in n) { w = int(0.25 * n[u] + 0.5); if (w > n[u] - 1) w = n[u] - 1;
                         if (t[u] + 0 != w) { print u, n[u], t[u]; bad = 1 } } exit bad }' \
    "$D/u.data" "$T/u.test" || fail "a user's test count is not round(0.25 * count)"
pass "split --holdout-per-user: lines and per-user counts"
"$BIN" train --ratings "$T/u.train" --test "$T/u.test" --seed 7 "${TRAIN[@]}" --out "$T/a.flm" | tail -1 >"$T/a.json"
"$BIN" train --ratings "$D/u.data" --holdout-per-user 0.25 --seed 7 "${TRAIN[@]}" --out "$T/b.flm" | tail -1 >"$T/b.json"
[ "$(payload "$T/a.flm")" = "$(payload "$T/b.flm")" ] || fail "per-user: models differ"
python3 - "$T/a.json" "$T/b.json" <<'PY' || fail "per-user: train reports differ"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("test_rmse", "train_mse", "n_train", "n_test"):
    assert a[k] == b[k], (k, a[k], b[k])
PY
pass "per-user split -> train is bit-identical to train --holdout-per-user"

# Random holdout on ratings.csv: header and commas kept, same model.
"$BIN" split --ratings "$S" --holdout 0.2 --seed 3 --out-prefix "$T/s" >/dev/null
[ "$(head -1 "$T/s.test")" = "userId,movieId,rating,timestamp" ] || fail "ratings.csv header not kept"
"$BIN" train --ratings "$T/s.train" --test "$T/s.test" --seed 3 "${TRAIN[@]}" --out "$T/c.flm" >/dev/null
"$BIN" train --ratings "$S" --holdout 0.2 --seed 3 "${TRAIN[@]}" --out "$T/d.flm" >/dev/null
[ "$(payload "$T/c.flm")" = "$(payload "$T/d.flm")" ] || fail "holdout: models differ"
pass "holdout split of ratings.csv -> train is bit-identical"

# Folds: each written fold's test RMSE is train --folds' for that fold.
"$BIN" split --ratings "$D/u.data" --folds 3 --seed 5 --out-prefix "$T/f" >/dev/null
"$BIN" train --ratings "$D/u.data" --folds 3 --seed 5 "${TRAIN[@]}" | tail -1 >"$T/folds.json"
for k in 1 2 3; do
    "$BIN" train --ratings "$T/f.$k.train" --test "$T/f.$k.test" --seed 5 "${TRAIN[@]}" | tail -1 >"$T/f$k.json"
done
python3 - "$T" <<'PY' || fail "fold RMSEs differ"
import json, sys
t = sys.argv[1]
want = json.load(open(t + "/folds.json"))["fold_test_rmse"]
got = [json.load(open(f"{t}/f{k}.json"))["test_rmse"] for k in (1, 2, 3)]
assert want == got, (want, got)
PY
pass "split --folds -> train per fold matches train --folds"

code=0; "$BIN" split --ratings "$D/u.data" --out-prefix "$T/x" 2>/dev/null || code=$?
[ $code = 2 ] || fail "split without a kind: exit $code, expected 2"
code=0; "$BIN" split --ratings "$D/u.data" --holdout 0.1 --folds 2 --out-prefix "$T/x" 2>/dev/null || code=$?
[ $code = 2 ] || fail "split with two kinds: exit $code, expected 2"
code=0; "$BIN" train --ratings "$D/u.data" --holdout 0.1 --holdout-per-user 0.1 2>/dev/null || code=$?
[ $code = 2 ] || fail "train with two splits: exit $code, expected 2"
pass "usage errors exit 2"
