#!/usr/bin/env bash
# e2e_cli.sh — drives the factorlens binary end to end on MovieLens 100K:
# the contract's flags, JSON fields and exit codes, plus determinism and demo.
# Usage: bash tests/e2e_cli.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_cli.sh /path/to/factorlens}
HERE=$(cd "$(dirname "$0")" && pwd)
export FACTORLENS_DATA=${FACTORLENS_DATA:-$HERE/../../shared/data}
D=$FACTORLENS_DATA/ml-100k
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

[ -x "$BIN" ] || fail "no executable at $BIN"
for f in u1.base u1.test u.item; do
    [ -r "$D/$f" ] || fail "missing $D/$f: set FACTORLENS_DATA to the folder holding ml-100k/"
done

# run CODE NAME CMD...: runs CMD, keeps stdout in $T/out and stderr in $T/err,
# and fails unless the exit code is CODE.
run() {
    local want=$1 name=$2
    shift 2
    local got=0
    "$@" >"$T/out" 2>"$T/err" || got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stdout:" >&2; tail -5 "$T/out" >&2
        echo "--- stderr:" >&2; cat "$T/err" >&2
        fail "$name: exit code $got, expected $want ($*)"
    fi
}

# py EXPR-FILE: a python check reading the last stdout line as JSON into `j`.
check_json() {
    local name=$1 code=$2
    tail -n 1 "$T/out" | python3 -c "
import json, sys
j = json.loads(sys.stdin.read())
$code
" || fail "$name: JSON check failed on: $(tail -n 1 "$T/out")"
}

# ---------------------------------------------------------------- help
run 0 "--help" "$BIN" --help
grep -qi "exit codes" "$T/out" || fail "factorlens --help does not mention exit codes"
for c in train eval predict recommend similar info demo download; do
    run 0 "$c --help" "$BIN" "$c" --help
    grep -qi "exit codes" "$T/out" || fail "$c --help does not mention exit codes"
    grep -q -- "--" "$T/out" || fail "$c --help lists no options"
done
grep -q -- "--json" "$T/out" || fail "download --help lacks --json"
run 0 "--version" "$BIN" --version
pass "help of every subcommand"

# ---------------------------------------------------------------- train
M=$T/m.flm
run 0 "train" "$BIN" train --ratings "$D/u1.base" --test "$D/u1.test" --model biased \
    --factors 50 --out "$M" --json
[ -s "$M" ] || fail "train did not write $M"
check_json "train summary" '
need = ["epochs", "train_mse", "reg_penalty", "test_rmse", "test_mae", "test_mse", "n_train",
        "n_test", "seconds", "model", "solver", "factors", "threads", "seed", "best_epoch",
        "n_unknown_test", "out"]
missing = [k for k in need if k not in j]
assert not missing, "missing fields %s" % missing
assert j["n_train"] == 80000 and j["n_test"] == 20000, (j["n_train"], j["n_test"])
assert j["model"] == "biased" and j["factors"] == 50
# Over 30 seeds the defaults give 0.9154 (sd 0.0006) on u1: 0.917 is beyond the luck of any seed.
assert j["test_rmse"] <= 0.917, "test_rmse %.5f > 0.917" % j["test_rmse"]
print("train test_rmse %.5f after %d epochs" % (j["test_rmse"], j["epochs"]))
'
TRAIN_RMSE=$(tail -n 1 "$T/out" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["test_rmse"])')
# every line before the summary is one epoch object
head -n -1 "$T/out" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin]
assert lines, "no epoch lines"
for i, e in enumerate(lines, 1):
    for k in ["epoch", "epochs", "train_mse", "reg_penalty", "test_rmse", "test_mae",
              "test_mse", "valid_rmse", "lr", "seconds"]:
        assert k in e, "epoch line lacks %s: %s" % (k, e)
    assert e["epoch"] == i and e["valid_rmse"] is None
' || fail "train --json epoch lines are malformed"
pass "train --json (test_rmse $TRAIN_RMSE)"

run 0 "train human" "$BIN" train --ratings "$D/u1.base" --test "$D/u1.test" --epochs 2 --quiet
grep -q "RMSE" "$T/out" || fail "human train output lacks RMSE"
run 0 "train holdout" "$BIN" train --ratings "$D/u1.base" --holdout 0.2 --epochs 2 --json --quiet
check_json "holdout" 'assert j["n_test"] == 16000 and j["n_train"] == 64000, j'
run 0 "train folds" "$BIN" train --ratings "$D/u1.base" --folds 2 --epochs 1 --json --quiet
check_json "folds" '
assert j["folds"] == 2 and len(j["fold_test_rmse"]) == 2 and j["test_rmse"] > 0, j'
run 2 "folds with --out" "$BIN" train --ratings "$D/u1.base" --folds 2 --out "$T/x.flm"
pass "train splits"

# ---------------------------------------------------------------- eval
run 0 "eval" "$BIN" eval "$M" --ratings "$D/u1.test" --json
check_json "eval" "
assert j['n'] == 20000, j
assert abs(j['rmse'] - $TRAIN_RMSE) <= 1e-6, (j['rmse'], $TRAIN_RMSE)
for k in ['mae', 'mse', 'n_unknown_users', 'n_unknown_items', 'n_skipped']: assert k in j, k
"
# u1.test has 32 ratings of items u1.base never saw: the default scores them from the
# biases and says so; --unknown=error names one and exits 3
grep -q "32 of 20000" "$T/err" || fail "eval: no note about the 32 unknown items: $(cat "$T/err")"
run 3 "eval unknown" "$BIN" eval "$M" --ratings "$D/u1.test" --unknown=error
grep -q "is not in the model" "$T/err" || fail "eval: unknown-id message: $(cat "$T/err")"
pass "eval"

# ---------------------------------------------------------------- predict
run 0 "predict" "$BIN" predict "$M" --user 196 --item 242
python3 -c "import sys; r = float(open('$T/out').read()); sys.exit(not 1 <= r <= 5)" ||
    fail "predict 196/242 printed '$(cat "$T/out")', not a rating in [1,5]"
run 0 "predict json" "$BIN" predict "$M" --user 196 --item 242 --json
check_json "predict" 'assert j["user"] == "196" and j["item"] == "242" and 1 <= j["rating"] <= 5'
run 3 "predict unknown user" "$BIN" predict "$M" --user 999999 --item 242
grep -q "999999" "$T/err" || fail "predict: message does not name the unknown user"
run 0 "predict unknown=mean" "$BIN" predict "$M" --user 999999 --item 242 --unknown=mean
python3 -c "float(open('$T/out').read())" || fail "predict --unknown=mean printed no number"
pass "predict"

# ---------------------------------------------------------------- recommend
run 0 "recommend" "$BIN" recommend "$M" --user 196 -n 10 --items "$D/u.item"
[ "$(wc -l <"$T/out")" -eq 10 ] || fail "recommend printed $(wc -l <"$T/out") lines, not 10"
awk '{print $2}' "$T/out" >"$T/rec_ids"
awk -F'\t' '$1 == "196" {print $2}' "$D/u1.base" >"$T/seen"
[ -s "$T/seen" ] || fail "user 196 has no ratings in u1.base?"
if grep -qxFf "$T/seen" "$T/rec_ids"; then fail "recommend lists items 196 rated in u1.base"; fi
run 0 "recommend json" "$BIN" recommend "$M" --user 196 -n 10 --items "$D/u.item" --json
check_json "recommend" "
seen = set(open('$T/seen').read().split())
items = j['items']
assert len(items) == 10, len(items)
assert not seen & {e['item'] for e in items}
assert all(e['title'] for e in items), 'missing titles'
assert [e['rank'] for e in items] == list(range(1, 11))
"
run 3 "recommend unknown" "$BIN" recommend "$M" --user 999999
pass "recommend"

# On ml-latest-small, user 1's predictions clip to 5 for many items: the list
# must keep the model's order among them (by the unclipped score), not the
# order the items were first seen in.
LS=$FACTORLENS_DATA/ml-latest-small
run 0 "train ml-latest-small" "$BIN" train --ratings "$LS/ratings.csv" --holdout 0.2 --quiet \
    --out "$T/ls.flm"
run 0 "recommend, clipped ratings" "$BIN" recommend "$T/ls.flm" --user 1 -n 25 --json
check_json "recommend order" '
items = j["items"]
score = [e["score"] for e in items]
assert score == sorted(score, reverse=True), "not sorted by score: %s" % score
assert all(e["rating"] == min(e["score"], 5.0) for e in items), items
top = [e for e in items if e["rating"] == 5.0]
assert len(top) >= 5, "expected several items clipped to 5, got %d" % len(top)
assert len({e["score"] for e in top}) == len(top), "clipped items tie on score: %s" % top
'
pass "recommend ranks by the unclipped score"

# A titles file of other data (ml-latest-small's movies.csv for an ml-100k
# model) shares many ids but names other films: never shown without a word.
for cmd in "recommend $M --user 196" "similar $M --item 50" "recommend $M --user 196 --json"; do
    # shellcheck disable=SC2086
    run 0 "$cmd, titles of other data" "$BIN" $cmd --items "$LS/movies.csv"
    grep -q "^factorlens: warning: .*$M.*$LS/movies.csv" "$T/err" ||
        fail "$cmd --items movies.csv: no warning naming both files: $(cat "$T/err")"
    # shellcheck disable=SC2086
    run 0 "$cmd, its own titles" "$BIN" $cmd --items "$D/u.item"
    [ ! -s "$T/err" ] || fail "$cmd --items u.item: $(cat "$T/err")"
done
pass "titles of other data are warned about"

# ---------------------------------------------------------------- similar, info
run 0 "similar" "$BIN" similar "$M" --item 50 -n 5 --items "$D/u.item" --json
check_json "similar" '
assert j["title"] == "Star Wars (1977)", j["title"]
s = j["similar"]
assert len(s) == 5 and all(e["item"] != "50" for e in s)
assert all(-1.0001 <= e["cosine"] <= 1.0001 for e in s)
'
run 0 "similar human" "$BIN" similar "$M" --item 50 -n 5
[ "$(wc -l <"$T/out")" -eq 5 ] || fail "similar printed $(wc -l <"$T/out") lines, not 5"
run 0 "info" "$BIN" info "$M"
grep -q "biased" "$T/out" || fail "info does not show the kind"
run 0 "info json" "$BIN" info "$M" --json
check_json "info" '
assert j["kind"] == "biased" and j["n_users"] == 943 and j["factors"] == 50, j
assert j["n_train"] == 80000 and j["file_size"] > 0 and "u1.base" in j["source"], j
'
# The model was trained on all cores (--threads left at 0): it records how many.
CORES=$(getconf _NPROCESSORS_ONLN) # what the library counts; nproc follows affinity
[ "$CORES" -le 1024 ] || CORES=1024
check_json "info threads" "assert j['params']['threads'] == $CORES, j['params']"
run 0 "info, human" "$BIN" info "$M"
grep -qx "threads       $CORES" "$T/out" || fail "info does not record $CORES threads: $(grep threads "$T/out")"
pass "similar and info"

# ---------------------------------------------------------------- errors
run 2 "bad number" "$BIN" train --ratings "$D/u1.base" --factors abc
grep -q -- "--factors" "$T/err" || fail "bad-number message does not name --factors"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "usage error is not one line: $(cat "$T/err")"
grep -q "^factorlens: " "$T/err" || fail "error does not start with 'factorlens: '"
run 2 "unknown option" "$BIN" eval "$M" --ratings "$D/u1.test" --frobnicate
grep -q "did you mean" "$T/err" && fail "a guess for --frobnicate: $(cat "$T/err")"
# Typos get the nearest name, as git does (exit code 2 still).
run 2 "typo --factor" "$BIN" train --ratings "$D/u1.base" --factor 50
grep -qF "unknown option '--factor' for factorlens train; did you mean '--factors'?" "$T/err" ||
    fail "--factor: no suggestion: $(cat "$T/err")"
run 2 "typo --tset" "$BIN" train --ratings "$D/u1.base" --tset "$D/u1.test"
grep -qF "did you mean '--test'?" "$T/err" || fail "--tset: no suggestion: $(cat "$T/err")"
run 2 "typo trian" "$BIN" trian --ratings "$D/u1.base"
grep -qF "unknown command 'trian'; did you mean 'train'?" "$T/err" ||
    fail "trian: no suggestion: $(cat "$T/err")"
run 2 "typo in a choice" "$BIN" train --ratings "$D/u1.base" --model biasd
grep -qF "did you mean 'biased'?" "$T/err" || fail "--model biasd: no suggestion: $(cat "$T/err")"
# An option of one value given twice is refused, not silently the last one.
run 2 "repeated --item" "$BIN" similar "$M" --item 50 --item 172
grep -qF "option --item is given more than once ('50', then '172')" "$T/err" ||
    fail "repeated --item: $(cat "$T/err")"
run 2 "repeated -n/--top" "$BIN" recommend "$M" --user 196 -n 3 --top 5
run 2 "missing value" "$BIN" train --ratings "$D/u1.base" --epochs
run 2 "bad number 1e999" "$BIN" train --ratings "$D/u1.base" --lr 1e999

code=0
"$BIN" train --ratings "$T/no-such-file.data" >"$T/out" 2>"$T/err" || code=$?
[ "$code" -ne 0 ] || fail "train on a missing file exited 0"
grep -q "no-such-file.data" "$T/err" || fail "missing-file message does not name the file"

head -n 100 "$D/u1.base" >"$T/bad.data"
sed -i '50s/.*/196\t242\tabc\t881250949/' "$T/bad.data"
run 4 "malformed ratings" "$BIN" train --ratings "$T/bad.data"
grep -q "bad.data:50" "$T/err" || fail "malformed-data message lacks file:line: $(cat "$T/err")"
run 0 "skip-bad" "$BIN" train --ratings "$T/bad.data" --skip-bad --epochs 1 --json --quiet
check_json "skip-bad" 'assert j["n_train"] == 99, j'

# One of a thing is singular: "1 rating", not "1 ratings".
printf '1\t10\t4\n' >"$T/one.data"
printf '2\t10\t4\n' >"$T/other.data"
run 0 "train on one rating" "$BIN" train --ratings "$T/one.data" --test "$T/one.data" --epochs 1 \
    --quiet --out "$T/one.flm"
grep -q "^train    1 rating from" "$T/out" && grep -q "^test     1 rating:" "$T/out" ||
    fail "train on one rating: $(cat "$T/out")"
run 0 "info, one rating" "$BIN" info "$T/one.flm"
grep -q "^trained on    1 rating from" "$T/out" || fail "info on one rating: $(cat "$T/out")"
run 0 "eval, one unknown rating" "$BIN" eval "$T/one.flm" --ratings "$T/other.data"
grep -q "note: 1 of 1 rating has a user or item" "$T/err" || fail "eval note: $(cat "$T/err")"
printf '1\t10\toops\n' >"$T/onebad.data"
run 4 "one malformed line" "$BIN" train --ratings "$T/onebad.data" --skip-bad
grep -q "all 1 data lines" "$T/err" && fail "one malformed line: $(cat "$T/err")"
if grep -rE '(^|[^0-9.])1 (ratings|lines)\b' "$T/out" "$T/err"; then fail "a plural after 1"; fi

# '-' reads standard input wherever ratings are read, plain or gzip.
head -n 1000 "$D/u1.base" >"$T/k.data"
run 0 "train from a pipe" bash -c 'cat "$1" | "$0" train --ratings - --epochs 1 --json --quiet' \
    "$BIN" "$T/k.data"
check_json "train from a pipe" 'assert j["n_train"] == 1000, j'
gzip -c "$T/k.data" >"$T/k.gz"
run 0 "train from a gzip pipe" bash -c 'cat "$1" | "$0" train --ratings - --epochs 1 --json --quiet \
    --out "$2"' "$BIN" "$T/k.gz" "$T/k.flm"
check_json "train from a gzip pipe" 'assert j["n_train"] == 1000, j'
run 0 "test from a pipe" bash -c 'cat "$1" | "$0" train --ratings "$1" --test - --epochs 1 --json --quiet' \
    "$BIN" "$T/k.data"
check_json "test from a pipe" 'assert j["n_test"] == 1000, j'
run 0 "eval from a pipe" bash -c 'gzip -dc "$1" | "$0" eval "$2" --ratings - --json' "$BIN" "$T/k.gz" "$T/k.flm"
check_json "eval from a pipe" 'assert j["n"] == 1000, j'
run 0 "info, ratings from a pipe" "$BIN" info "$T/k.flm" --json
check_json "info, ratings from a pipe" 'assert j["source"] == "(standard input)", j["source"]'
run 2 "both from a pipe" "$BIN" train --ratings - --test - </dev/null

cp "$M" "$T/corrupt.flm"
python3 - "$T/corrupt.flm" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(b)
EOF
run 5 "corrupt model" "$BIN" info "$T/corrupt.flm"
run 5 "corrupt model (predict)" "$BIN" predict "$T/corrupt.flm" --user 196 --item 242
pass "error exit codes"

# ---------------------------------------------------------------- determinism
for k in 1 2; do
    run 0 "determinism run $k" "$BIN" train --ratings "$D/u1.base" --threads 2 --seed 7 \
        --epochs 5 --quiet --out "$T/det$k.flm"
done
cmp -s "$T/det1.flm" "$T/det2.flm" || fail "same --seed and --threads gave different model files"
run 0 "determinism, other seed" "$BIN" train --ratings "$D/u1.base" --threads 2 --seed 8 \
    --epochs 5 --quiet --out "$T/det3.flm"
cmp -s "$T/det1.flm" "$T/det3.flm" && fail "a different --seed gave the same model file"
pass "same --seed and --threads give the same model"

# Parallel training must not cost accuracy: each solver's default on u1, on one
# thread and on two, within 0.002 test RMSE (the speed issue's bar).
for s in sgd adam als; do
    for t in 1 2; do
        run 0 "$s on $t thread(s)" "$BIN" train --ratings "$D/u1.base" --test "$D/u1.test" \
            --solver "$s" --threads "$t" --json --quiet
        tail -n 1 "$T/out" >"$T/rmse_$t.json"
    done
    python3 - "$T/rmse_1.json" "$T/rmse_2.json" "$s" <<'EOF' || fail "$s: 1 and 2 threads disagree"
import json, sys
a, b = (json.load(open(f))["test_rmse"] for f in sys.argv[1:3])
assert abs(a - b) <= 0.002, f"{sys.argv[3]}: test RMSE {a} on 1 thread, {b} on 2"
EOF
done
pass "1 and 2 threads train to the same test RMSE (within 0.002) with every solver"

# ---------------------------------------------------------------- demo
run 0 "demo" "$BIN" demo --threads 2
grep -q "global mean" "$T/out" || fail "demo does not show the global-mean baseline"
grep -q "Star Wars" "$T/out" || fail "demo does not mention Star Wars"
pass "demo"

# Offline, the demo says how to use local files and where downloads are kept;
# with --quiet its report has no double blank line where the epochs would be.
mkdir -p "$T/home"
run 0 "demo offline" env -u XDG_CACHE_HOME HOME="$T/home" "$BIN" demo --offline --quiet --threads 2
for want in "--data DIR" "FACTORLENS_DATA=DIR" "$T/home/.cache/factorlens/ml-100k"; do
    grep -qF -- "$want" "$T/err" || fail "demo --offline: the note lacks '$want': $(cat "$T/err")"
done
if grep -qzP '\n\n\n' "$T/out"; then fail "demo --offline --quiet prints two blank lines in a row"; fi
pass "demo offline"

echo "all CLI end-to-end checks passed"
