#!/usr/bin/env bash
# e2e_fm.sh — fm and svdpp through the CLI: side-feature files with bad
# lines or repeated (id, feature) pairs fail with file:line and exit 4; an
# fm model trained with u.user, u.item and --implicit saves, `info` lists its
# feature groups, and the loaded model scores the test set exactly as
# training reported, and predict --user-feature rates for a new user;
# --time-bins and --solver sgd round-trip through a saved file too.
# Usage: bash tests/e2e_fm.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_fm.sh /path/to/factorlens}
case $BIN in /*) ;; *) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
export FACTORLENS_DATA=${FACTORLENS_DATA:-$HERE/../../shared/data}
D=$FACTORLENS_DATA/ml-100k
fail() { echo "FAIL: $*" >&2; exit 1; }
for f in u1.base u1.test u.user u.item; do
    [ -r "$D/$f" ] || { echo "skip: no $D/$f (set FACTORLENS_DATA)"; exit 77; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
head -n 3000 "$D/u1.base" >base
head -n 500 "$D/u1.test" >test
OPTS="--model fm --samples 12 --burn-in 4 --factors 4 --threads 2 --quiet"

# expect CODE MESSAGE CMD...: exit code and a fixed string on stderr.
expect() {
    local want=$1 msg=$2 got=0
    shift 2
    "$@" >out 2>err || got=$?
    [ "$got" = "$want" ] || { cat err >&2; fail "exit $got, expected $want: $*"; }
    grep -qF -- "$msg" err || { cat err >&2; fail "stderr lacks \"$msg\": $*"; }
    echo "ok: [$got] $(head -n 1 err)"
}

printf '1,genre=a\n2,genre=b\n1,genre=a\n' >dup.csv
# shellcheck disable=SC2086
expect 4 "dup.csv:3: id '1' has feature 'genre=a' again (first at line 1)" \
    "$BIN" train --ratings base $OPTS --item-features dup.csv
printf '1,x,1\n2,y,lots\n' >value.csv
# shellcheck disable=SC2086
expect 4 "value.csv:2: value 'lots' is not a finite number" \
    "$BIN" train --ratings base $OPTS --user-features value.csv
printf '1|24|M|technician|85711\n2|53|F|other\n' >u.user.bad
# shellcheck disable=SC2086
expect 4 "u.user.bad:2: expected 5 '|'-separated fields" \
    "$BIN" train --ratings base $OPTS --user-features u.user.bad
expect 2 "need --model fm" "$BIN" train --ratings base --user-features "$D/u.user"

# shellcheck disable=SC2086
"$BIN" train --ratings base --test test $OPTS --user-features "$D/u.user" \
    --item-features "$D/u.item" --implicit --json --out fm.model >train.json
"$BIN" info fm.model >info.txt
for g in "user  user" "user  occupation" "user  rated-items" "item  genre" "item  raters"; do
    grep -q "group         $g" info.txt || { cat info.txt >&2; fail "info lacks group '$g'"; }
done
"$BIN" eval fm.model --ratings test --json >eval.json 2>eval.err
python3 - train.json eval.json <<'PY'
import json, sys
train = json.loads(open(sys.argv[1]).read().splitlines()[-1])
ev = json.loads(open(sys.argv[2]).read().splitlines()[-1])
if ev["rmse"] != train["test_rmse"]:
    sys.exit("FAIL: the loaded model scores %r, training reported %r" % (ev["rmse"], train["test_rmse"]))
print("ok: the loaded fm model scores the test set as training reported (%.6f)" % ev["rmse"])
PY
"$BIN" recommend fm.model --user 1 -n 3 >rec.txt || fail "recommend on an fm model"
# A new user from side features alone; u.user's raw age is bucketed as in training.
"$BIN" predict fm.model --user newcomer --item 50 --user-feature gender=F --user-feature age=25 \
    --user-feature occupation=writer >pred.txt || fail "predict --user-feature"
grep -Eq '^[1-5]\.[0-9][0-9]$' pred.txt || { cat pred.txt >&2; fail "predict --user-feature printed no rating"; }
expect 3 "user feature 'planet=mars' is not in the model" \
    "$BIN" predict fm.model --user newcomer --item 50 --user-feature planet=mars

# --time-bins: refused without timestamps (exit 2); with them the saved
# svdpp model scores the test set (each rating in its own bin) as training
# reported, info shows the bins, and predict (no timestamp) still rates.
cut -f1-3 base >base.notimes
expect 2 "--time-bins needs the ratings' timestamps" \
    "$BIN" train --ratings base.notimes --model svdpp --time-bins 4 --quiet
"$BIN" train --ratings base --test test --model svdpp --samples 12 --burn-in 4 --factors 4 \
    --threads 2 --quiet --time-bins 4 --json --out tb.model >tb.json
"$BIN" eval tb.model --ratings test --json >tb_eval.json 2>tb_eval.err
python3 - tb.json tb_eval.json <<'PY'
import json, sys
train = json.loads(open(sys.argv[1]).read().splitlines()[-1])
ev = json.loads(open(sys.argv[2]).read().splitlines()[-1])
if ev["rmse"] != train["test_rmse"]:
    sys.exit("FAIL: the loaded --time-bins model scores %r, training reported %r" % (ev["rmse"], train["test_rmse"]))
print("ok: the loaded --time-bins model scores the test set as training reported (%.6f)" % ev["rmse"])
PY
"$BIN" info tb.model >tb_info.txt
grep -q "time bins     4" tb_info.txt || { cat tb_info.txt >&2; fail "info lacks the time bins"; }
"$BIN" predict tb.model --user 1 --item 50 >tb_pred.txt || fail "predict on a --time-bins model"
# --solver sgd trains fm with side features and the saved model scores as reported.
# shellcheck disable=SC2086
"$BIN" train --ratings base --test test --model fm --solver sgd --epochs 3 --factors 4 --quiet \
    --user-features "$D/u.user" --implicit --json --out sgd.model >sgd.json
"$BIN" eval sgd.model --ratings test --json >sgd_eval.json 2>sgd_eval.err
python3 - sgd.json sgd_eval.json <<'PY'
import json, sys
train = json.loads(open(sys.argv[1]).read().splitlines()[-1])
ev = json.loads(open(sys.argv[2]).read().splitlines()[-1])
if ev["rmse"] != train["test_rmse"]:
    sys.exit("FAIL: the loaded sgd fm model scores %r, training reported %r" % (ev["rmse"], train["test_rmse"]))
print("ok: the loaded sgd fm model scores the test set as training reported (%.6f)" % ev["rmse"])
PY
echo "e2e_fm: all checks passed"
