#!/usr/bin/env bash
# e2e_coldstart.sh — new users at the CLI: `recommend --new-user FILE` (its JSON
# fields, the rated items left out, the file's tolerated forms, bad files by
# file:line with exit 4, unknown items exit 3 or skipped, kinds that cannot fold
# in exit 2, and the model file's bytes unchanged) and `eval --fold-in N` (the
# cold-start protocol on ml-100k split by user id: its JSON fields, the fold-in
# at least 0.04 RMSE below the bias-only fallback, users with N ratings or fewer
# counted and left out, exit 4 when nothing is left to score, usage errors).
# Usage: bash tests/e2e_coldstart.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_coldstart.sh /path/to/factorlens}
case $BIN in /*) ;; *) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;; esac
[ -n "${FACTORLENS_DATA:-}" ] || { echo "skip: FACTORLENS_DATA is not set"; exit 77; }
D=$FACTORLENS_DATA/ml-100k
[ -r "$D/u.data" ] || { echo "skip: no ml-100k/u.data"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# run CODE CMD...: CMD must exit with CODE; stdout in out, stderr in err.
run() {
    local want=$1 got=0
    shift
    "$@" >out 2>err || got=$?
    [ "$got" = "$want" ] || { cat err >&2; fail "exit $got, expected $want: $*"; }
}
# stderr_has TEXT: the last command's stderr holds TEXT (a fixed string).
stderr_has() { grep -qF -- "$1" err || { cat err >&2; fail "stderr lacks \"$1\""; }; }
# check PYTHON: asserts on the JSON object j (the last stdout line).
check() { tail -n 1 out >last.json; python3 -c "import json; j = json.load(open('last.json')); $1" ||
    fail "JSON check failed: $1 ($(cat last.json))"; }

# The protocol's split: users whose id is a multiple of 10 are new.
awk -F'\t' '$1 % 10 != 0' "$D/u.data" >train.data
awk -F'\t' '$1 % 10 == 0' "$D/u.data" >cold.data
run 0 "$BIN" train --ratings train.data --threads 2 --quiet --out m.flm
sha256sum m.flm >m.sha

# ---------------------------------------------------------------- recommend --new-user
printf 'item,rating\n50,5\n172,5\n181,4\n1,2\n' >fan.csv
run 0 "$BIN" recommend m.flm --new-user fan.csv -n 7 --json --items "$D/u.item"
check '
assert set(j) == {"new_user", "n_ratings", "n_used", "n_unknown_items", "bias", "items"}, j
assert j["new_user"] == "fan.csv" and j["n_ratings"] == 4 and j["n_used"] == 4 and j["n_unknown_items"] == 0
assert isinstance(j["bias"], float)
its = j["items"]
assert len(its) == 7 and [x["rank"] for x in its] == list(range(1, 8))
assert all(set(x) == {"rank", "item", "rating", "score", "title"} for x in its)
assert not {"50", "172", "181", "1"} & {x["item"] for x in its}, "rated items are left out"
assert all(a["score"] >= b["score"] for a, b in zip(its, its[1:])), "best first"
assert all(1 <= x["rating"] <= 5 and x["title"] for x in its)'
stderr_has "folded in from 4 ratings in fan.csv"
pass "recommend --new-user --json: fields, ranks, rated items left out"

# The same ratings in other forms give the same list: tab, blanks, no header,
# columns named in the other order, CRLF, gzip, standard input.
run 0 "$BIN" recommend m.flm --new-user fan.csv -n 7
cp out want.txt
printf '50\t5\n172\t5\n181\t4\n1\t2\n' >fan.tsv
printf '  50  5\r\n\r\n172 5\r\n181   4\r\n1 2\r\n' >fan.txt
printf 'rating,movieId\n5,50\n5,172\n4,181\n2,1\n' >fan2.csv
gzip -c fan.csv >fan.csv.gz
for f in fan.tsv fan.txt fan2.csv fan.csv.gz; do
    run 0 "$BIN" recommend m.flm --new-user "$f" -n 7
    cmp -s out want.txt || fail "--new-user $f gave another list than fan.csv"
done
run 0 "$BIN" recommend m.flm --new-user - -n 7 <fan.tsv
cmp -s out want.txt || fail "--new-user - gave another list than fan.csv"
[ "$(wc -l <want.txt)" = 7 ] || fail "text output: expected 7 lines"
pass "recommend --new-user: tab, blanks, CRLF, header in any order, gzip, stdin agree"

# A harsher rater of the same films gets a lower bias.
printf '50,1\n172,1\n181,2\n1,1\n' >hater.csv
run 0 "$BIN" recommend m.flm --new-user hater.csv --json
python3 -c "import json,sys; a, b = (json.loads(open(f).read().splitlines()[-1])['bias'] for f in sys.argv[1:]); assert b < a, (a, b)" \
    last.json out || fail "a harsher rater should get a lower bias"
pass "recommend --new-user: a harsher rater gets a lower bias"

# Bad files: file:line, exit 4; unknown items exit 3 unless skipped.
printf '50,5\n172,x\n' >bad.csv
run 4 "$BIN" recommend m.flm --new-user bad.csv
stderr_has "bad.csv:2: rating 'x' is not a number"
printf '50,5\n172\n' >short.csv
run 4 "$BIN" recommend m.flm --new-user short.csv
stderr_has "short.csv:2: expected at least 2 fields"
printf '50,5\n172,7\n' >range.csv
run 4 "$BIN" recommend m.flm --new-user range.csv
stderr_has "range.csv:2: rating 7 is outside the scale 1..5"
printf 'item,rating\n50,5\n172,4\n50,3\n' >twice.csv
run 4 "$BIN" recommend m.flm --new-user twice.csv
stderr_has "twice.csv:4: item '50' again (first at line 2)"
printf 'item,rating\n' >header_only.csv
run 4 "$BIN" recommend m.flm --new-user header_only.csv
stderr_has "header_only.csv: has a header line but no ratings"
: >empty.csv
run 4 "$BIN" recommend m.flm --new-user empty.csv
stderr_has "empty.csv: is empty"
run 1 "$BIN" recommend m.flm --new-user missing.csv
stderr_has "missing.csv: cannot open"
printf '50,5\nno-such-film,4\n172,5\n' >unknown.csv
run 3 "$BIN" recommend m.flm --new-user unknown.csv
stderr_has "unknown.csv: item 'no-such-film' is not in m.flm"
run 0 "$BIN" recommend m.flm --new-user unknown.csv --unknown skip --json
check 'assert j["n_ratings"] == 3 and j["n_used"] == 2 and j["n_unknown_items"] == 1, j'
stderr_has "warning: 1 of the 3 ratings in unknown.csv is of an item m.flm never saw"
pass "recommend --new-user: bad lines (exit 4 with file:line), unknown items (exit 3, or --unknown skip)"

# Usage errors, and a kind that cannot fold in.
run 2 "$BIN" recommend m.flm --new-user fan.csv --user 196
run 2 "$BIN" recommend m.flm --user 196 --unknown skip
run 2 "$BIN" recommend m.flm
run 2 "$BIN" recommend m.flm --new-user fan.csv --unknown mean
head -n 3000 train.data >small.data
run 0 "$BIN" train --ratings small.data --model nn --epochs 1 --threads 1 --quiet --out nn.flm
run 2 "$BIN" recommend nn.flm --new-user fan.csv
stderr_has "nn.flm (kind nn) cannot fold in a new user"
run 0 "$BIN" train --ratings small.data --model dot --epochs 2 --threads 1 --quiet --out dot.flm
run 0 "$BIN" recommend dot.flm --new-user fan.csv --json -n 3
check 'assert j["bias"] is None and len(j["items"]) == 3, j'
pass "recommend --new-user: usage errors exit 2; nn refused (exit 2); dot has no bias"

# ---------------------------------------------------------------- eval --fold-in
run 0 "$BIN" eval m.flm --ratings cold.data --fold-in 5 --json
check '
for k in ("n", "n_users", "rmse", "mae", "rmse_baseline", "mae_baseline"): assert k in j, k
assert j["fold_in"] == 5 and j["n_users"] == 94 and j["n_known_users"] == 0 and j["n_short_users"] == 0, j
assert j["n"] + 5 * 94 + j["n_unknown_items"] == 8944, j
gap = j["rmse_baseline"] - j["rmse"]
assert gap >= 0.04, "fold-in only %.4f below the bias-only fallback" % gap
assert j["mae"] < j["mae_baseline"], j'
cp last.json fold5.json
pass "eval --fold-in 5 on ml-100k's new users: $(python3 -c 'import json; j = json.load(open("fold5.json")); print("RMSE %.4f, bias-only %.4f" % (j["rmse"], j["rmse_baseline"]))')"
run 0 "$BIN" eval m.flm --ratings cold.data --fold-in 5
grep -q "^fold-in " out && grep -q "^bias-only " out || fail "eval --fold-in text lacks its two rows"

# Users with N ratings or fewer, and users the model knows, are counted and left out.
{ head -n 50 train.data; printf '9999\t50\t5\t0\n9999\t172\t4\t0\n'; head -n 200 cold.data; } >mixed.data
run 0 "$BIN" eval m.flm --ratings mixed.data --fold-in 2 --json
check '
assert j["n_short_users"] >= 1 and j["n_known_users"] >= 1, j
assert j["n_users"] >= 1 and j["n"] >= 1, j'
awk -F'\t' '{ if (++seen[$1] <= 2) print }' cold.data >two_each.data
run 4 "$BIN" eval m.flm --ratings two_each.data --fold-in 2
stderr_has "no rating to score"
run 4 "$BIN" eval m.flm --ratings train.data --fold-in 5
stderr_has "are known to the model"
pass "eval --fold-in: known users and users with <= N ratings counted and left out; nothing to score exits 4"

run 2 "$BIN" eval m.flm --ratings cold.data --fold-in 5 --ranking
run 2 "$BIN" eval m.flm --ratings cold.data --fold-in 5 --unknown skip
run 2 "$BIN" eval m.flm --ratings cold.data --fold-in 0
run 2 "$BIN" eval nn.flm --ratings cold.data --fold-in 5
stderr_has "nn.flm (kind nn) cannot fold in new users"
printf '10\t50\tx\n' >bad.data
run 4 "$BIN" eval m.flm --ratings bad.data --fold-in 5
stderr_has "bad.data:1: rating 'x' is not a number"
pass "eval --fold-in: usage errors exit 2, nn refused, bad lines exit 4"

sha256sum -c --quiet m.sha || fail "the model file changed"
pass "m.flm is byte for byte what training wrote"
