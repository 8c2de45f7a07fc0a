#!/usr/bin/env bash
# e2e_bad_input.sh — every kind of bad input through the factorlens CLI: the
# exit code (4 bad data, 5 bad model file, 3 unknown id, 2 usage, 1 i/o and
# other) and the one stderr line naming the file and, where there is one, the line.
# Usage: bash tests/e2e_bad_input.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
# FL_RECORD=docs/bad-input.md writes every case's command, exit code and exact
# message into that file as a Markdown table.
set -euo pipefail

BIN=${1:?usage: e2e_bad_input.sh /path/to/factorlens}
# The cases run in a scratch folder: a relative path must still find the binary.
case $BIN in /*) ;; *) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
export FACTORLENS_DATA=${FACTORLENS_DATA:-$HERE/../../shared/data}
D=$FACTORLENS_DATA/ml-100k
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "no executable at $BIN"
for f in u.data u.item; do
    [ -r "$D/$f" ] || fail "missing $D/$f: set FACTORLENS_DATA to the folder holding ml-100k/"
done
RECORD=""
if [ -n "${FL_RECORD:-}" ]; then
    mkdir -p "$(dirname "$FL_RECORD")"
    RECORD=$(cd "$(dirname "$FL_RECORD")" && pwd)/$(basename "$FL_RECORD")
fi
T=$(mktemp -d)
trap 'chmod -R u+rwX "$T" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T" # relative names keep the expected messages short and exact
n_cases=0
rows=$T/.rows
: >"$rows"

# shown CMD...: the command as a reader would type it.
shown() {
    local out="" a
    for a in "$@"; do
        a=${a//"$BIN"/factorlens}
        a=${a//"$D"/ml-100k}
        case $a in
        *[[:space:]]* | "") a="'$a'" ;;
        *) [ ${#a} -gt 60 ] && a="${a:0:24}…(${#a} bytes)" ;; # a long id
        esac
        [ "$a" = train ] && [ -z "$out" ] && a="factorlens train $TRAIN_OPTS"
        out="$out${out:+ }$a"
    done
    printf '%s' "$out"
}

# md TEXT: TEXT as a Markdown code span inside a table cell.
md() { local t=${1//|/\\|}; printf '`%s`' "$t"; }

# expect CODE NAME MESSAGE CMD...: CMD must exit with CODE, reading $FEED
# (a file name, default /dev/null) on standard input. A failing CMD
# must print exactly one stderr line besides notes and warnings
# ("factorlens: note: ...", "factorlens: warning: ..."),
# and it must contain MESSAGE (a fixed string naming the file and line);
# a succeeding CMD must print MESSAGE somewhere on stderr unless it is empty.
# Keeps stdout in out, stderr in err, and the error line in line.
expect() {
    local want=$1 name=$2 msg=$3
    shift 3
    local got=0
    "$@" <"${FEED:-/dev/null}" >out 2>err || got=$?
    if [ "$got" != "$want" ]; then
        echo "--- stderr:" >&2; cat err >&2
        fail "$name: exit code $got, expected $want: $*"
    fi
    line=$(grep -v '^factorlens: \(note\|warning\): ' err || true)
    if [ "$want" != 0 ]; then
        [ -n "$line" ] || fail "$name: no error message on stderr: $*"
        [ "$(printf '%s\n' "$line" | wc -l)" = 1 ] ||
            { cat err >&2; fail "$name: the error takes more than one line: $*"; }
        grep -qF -- "$msg" <<<"$line" || { cat err >&2; fail "$name: stderr lacks \"$msg\": $*"; }
    elif [ -n "$msg" ]; then
        grep -qF -- "$msg" err || { cat err >&2; fail "$name: stderr lacks \"$msg\": $*"; }
    fi
    n_cases=$((n_cases + 1))
    echo "ok: [$got] $name: ${line:-$(head -n 1 err)}"
    local text
    if [ "$want" != 0 ]; then text=$line; else text=$(paste -sd '\t' err | sed 's/\t/ · /g'); fi
    printf '| %s | %s | %s | %s |\n' "$name" "$(md "$(shown "$@")${FEED:+ < $FEED}")" "$got" \
        "$([ -n "$text" ] && md "$text" || echo "(nothing on stderr)")" >>"$rows"
}

TRAIN_OPTS="--epochs 1 --factors 4 --threads 1 --quiet"
# shellcheck disable=SC2086
train() { "$BIN" train $TRAIN_OPTS "$@"; }
json_field() { tail -n 1 out | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

head -n 500 "$D/u.data" >u.data
head -n 20 "$D/u.data" >base.data

# ---------------------------------------------------------------- the help documents the codes
"$BIN" train --help >out
grep -q "4 bad input data" out && grep -q "5 bad or corrupt model file" out ||
    fail "train --help does not document exit codes 4 and 5"

# ---------------------------------------------------------------- ratings fields
{ cat u.data; printf '1\t2\toops\t881250949\n'; } >bad.data # u.data-style, bad line 501
expect 4 "rating not a number (line 501)" "bad.data:501: rating 'oops' is not a number" \
    train --ratings bad.data
# Regression: a bad rating on line 1 used to be taken for a header and dropped.
{ printf '196\t242\toops\t881250949\n'; cat base.data; } >first.data
expect 4 "rating not a number (line 1)" "first.data:1: rating 'oops' is not a number" \
    train --ratings first.data
printf '1\t10\t\n2\t10\t3\n' >empty_rating.data
expect 4 "empty rating field" "empty_rating.data:1: rating is empty" train --ratings empty_rating.data
for v in nan inf -inf 1e40; do
    { cat base.data; printf '1\t2\t%s\t881250949\n' "$v"; } >nonfinite.data
    expect 4 "rating $v" "nonfinite.data:21: rating '$v' is not a finite number" \
        train --ratings nonfinite.data
done
printf '1\t10\t0x10\n' >hex.data
expect 4 "hexadecimal rating" "hex.data:1: rating '0x10' is not a number" train --ratings hex.data
{ cat base.data; printf '1\t2\t7\t881250949\n'; } >scale.data
expect 4 "rating outside --scale" "scale.data:21: rating 7 is outside the scale 1..5" \
    train --ratings scale.data --scale 1,5
expect 4 "rating outside --scale=" "scale.data:21: rating 7 is outside the scale 1..5" \
    train --ratings scale.data --scale=1,5
expect 0 "rating 7 without --scale" "" train --ratings scale.data
# Kept without --scale (some data sets centre their ratings), but never silently.
{ cat base.data; printf '1\t2\t-3\t881250949\n'; } >negative.data
expect 0 "rating -3 among 1-5, no --scale" "warning: 1 rating in negative.data lies far outside 1..5, the range the rest of the file uses (first: negative.data:21: rating -3); it was kept: use --scale LO,HI" \
    train --ratings negative.data
expect 4 "rating -3 with --scale" "negative.data:21: rating -3 is outside the scale 1..5" \
    train --ratings negative.data --scale 1,5
{ cat base.data; printf '1\t10\n'; } >short.data
expect 4 "missing field" "short.data:21: expected at least 4 fields separated by '\\t', found 2" \
    train --ratings short.data
printf '1\t10\t4\n2\0\t10\t3\n' >nul.data
expect 4 "NUL byte" "nul.data:2: line contains a NUL byte" train --ratings nul.data
printf '\t10\t4\n' >noid.data
expect 4 "empty user id" "noid.data:1: user id is empty" train --ratings noid.data
printf '1\t10\t4\t2020\n2\t10\t3\tlast-week\n' >time.data
expect 4 "bad timestamp (--temporal)" "time.data:2: timestamp 'last-week' is not a non-negative integer" \
    train --ratings time.data --temporal 0.5
expect 0 "--skip-bad" "note: skipped 1 malformed line in bad.data (first: bad.data:501: rating 'oops' is not a number)" \
    train --ratings bad.data --skip-bad --json
[ "$(json_field n_train)" = 500 ] || fail "--skip-bad kept $(json_field n_train) ratings, expected 500"
{ cat bad.data; printf '1\t3\t\n1\t10\n'; } >bad3.data
expect 0 "--skip-bad, several" "note: skipped 3 malformed lines in bad3.data (first: bad3.data:501: rating 'oops' is not a number)" \
    train --ratings bad3.data --skip-bad

# ---------------------------------------------------------------- quoting, line endings, ids
printf 'userId,movieId,rating,timestamp\n1,"10",4,5\n"2,10,3,5\n' >quote.csv
expect 4 "stray quote" "quote.csv:3: unterminated quoted field" train --ratings quote.csv
printf '1\t10\t4\r\n2\t10\t3\n3\t11\t2\r\n\r\n4\t11\t1' >crlf.data # mixed endings, no final newline
expect 0 "mixed CRLF/LF endings" "" train --ratings crlf.data --json
[ "$(json_field n_train)" = 4 ] || fail "mixed line endings: expected 4 ratings, got $(json_field n_train)"
printf 'user a\titem b\t4\nuser c\titem b\t3\n' >spaces.data
expect 0 "ids with spaces" "" train --ratings spaces.data --out spaces.flm
expect 0 "ids with spaces, predict" "" "$BIN" predict spaces.flm --user "user a" --item "item b"
big=18446744073709551615 huge=123456789012345678901234567890
printf '%s\t%s\t4\n%s\t10\t3\n1\t%s\t2\n' $big $huge 18446744073709551614 $big >ids64.data
expect 0 "64-bit and longer numeric ids" "" train --ratings ids64.data --out ids64.flm --json
[ "$(json_field n_train)" = 3 ] || fail "64-bit ids: expected 3 ratings"
expect 0 "64-bit ids, predict" "" "$BIN" predict ids64.flm --user $big --item $huge
expect 0 "64-bit ids, distinct" "" "$BIN" info ids64.flm --json
python3 -c "import json,sys; j=json.loads(open('out').read().splitlines()[-1]); assert j['n_users']==3 and j['n_items']==3, j" ||
    fail "64-bit ids were not kept apart: $(tail -n 1 out)"
id255=$(printf 'u%.0s' $(seq 255)) id256=$(printf 'u%.0s' $(seq 256))
printf '%s\t10\t4\n' "$id255" >id255.data
expect 0 "id of 255 bytes" "" train --ratings id255.data
printf '1\t10\t4\n%s\t10\t4\n' "$id256" >id256.data
expect 4 "user id of 256 bytes" "id256.data:2: user id is longer than 255 bytes" train --ratings id256.data
printf '1\t%s\t4\n' "$id256" >item256.data
expect 4 "item id of 256 bytes" "item256.data:1: item id is longer than 255 bytes" train --ratings item256.data

# ---------------------------------------------------------------- duplicates
{ cat base.data; sed -n 3p base.data; } >dup.data
expect 4 "duplicate (user, item)" "dup.data:21: user '22' rated item '377' again (first at line 3); choose --duplicates=last or --duplicates=mean" \
    train --ratings dup.data
for pol in last mean; do
    expect 0 "--duplicates $pol" "" train --ratings dup.data --duplicates $pol --json
    [ "$(json_field n_train)" = 20 ] || fail "--duplicates $pol kept $(json_field n_train) ratings, expected 20"
done

# ---------------------------------------------------------------- empty, header-only, unknown ids
: >empty.data
expect 4 "empty file" "empty.data: is empty, expected ratings" train --ratings empty.data
printf '\n\n  \n' >blank.data
expect 4 "blank lines only" "blank.data: is empty, expected ratings" train --ratings blank.data
echo "userId,movieId,rating,timestamp" >header.csv
expect 4 "header-only CSV" "header.csv: has a header line but no ratings" train --ratings header.csv
printf '1\t10\t4\n2\t10\t3\n2\t11\t5\n' >tr.data
printf '1\t10\t4\n3\t10\t3\n' >te.data
expect 0 "test user not in train" "" "$BIN" train --epochs 1 --factors 4 --threads 1 --ratings tr.data --test te.data --out tr.flm
grep -q "1 test rating had a user or item unseen in training (unknown users: 1, unknown items: 0)" out ||
    fail "train --test does not report the unseen test user: $(cat out)"
expect 0 "test user not in train, --json" "" train --ratings tr.data --test te.data --json
[ "$(json_field n_unknown_users)" = 1 ] || fail "the unseen test user was not counted"
expect 3 "eval --unknown=error" "te.data: user '3' is not in the model" \
    "$BIN" eval tr.flm --ratings te.data --unknown=error
expect 0 "eval, unknown user (default)" "note: 1 of 2 ratings has a user or item the model never saw" \
    "$BIN" eval tr.flm --ratings te.data
expect 3 "predict, unknown user" "user '3' is not in the model" "$BIN" predict tr.flm --user 3 --item 10
expect 0 "predict --unknown mean" "" "$BIN" predict tr.flm --user 3 --item 10 --unknown mean
expect 4 "rating not a number, eval" "bad.data:501: rating 'oops' is not a number" \
    "$BIN" eval tr.flm --ratings bad.data

# ---------------------------------------------------------------- gzip
gzip -c u.data >good.gz
expect 0 "gzip" "" train --ratings good.gz
: >zero.gz
expect 4 "0-byte .gz" "zero.gz: is empty, expected ratings" train --ratings zero.gz
gzip -c </dev/null >nothing.gz
expect 4 ".gz of nothing" "nothing.gz: is empty, expected ratings" train --ratings nothing.gz
head -c 1000 good.gz >trunc.gz
expect 4 "truncated .gz" "trunc.gz: corrupt or truncated gzip data (unexpected end of file)" \
    train --ratings trunc.gz
expect 4 "truncated .gz, eval" "trunc.gz: corrupt or truncated gzip data (unexpected end of file)" \
    "$BIN" eval tr.flm --ratings trunc.gz
head -c 12 good.gz >trunc12.gz
expect 4 ".gz cut inside its header" "trunc12.gz: corrupt or truncated gzip data" train --ratings trunc12.gz
# Standard input (--ratings -), plain or gzip: zcat is not needed.
FEED=good.gz expect 0 "gzip on standard input" "" train --ratings - --json
[ "$(json_field n_train)" = 500 ] || fail "--ratings - with gzip: $(json_field n_train) ratings, expected 500"
FEED=bad.data expect 4 "bad line on standard input" "(standard input):501: rating 'oops' is not a number" \
    train --ratings -
FEED=u.data expect 2 "--ratings - and --test -" "--ratings and --test cannot both read standard input" \
    train --ratings - --test -
python3 -c "
b = bytearray(open('good.gz', 'rb').read()); b[-6] ^= 0xff  # the CRC-32 trailer
open('crc.gz', 'wb').write(bytes(b))"
expect 4 ".gz with a wrong CRC" "crc.gz: corrupt or truncated gzip data (incorrect data check)" \
    train --ratings crc.gz

# ---------------------------------------------------------------- files that are not files
mkdir adir
expect 1 "directory as --ratings" "adir: is a directory, expected a file" train --ratings adir
expect 1 "directory as eval --ratings" "adir: is a directory, expected a file" "$BIN" eval tr.flm --ratings adir
expect 1 "missing file" "missing.data: cannot open: No such file or directory" train --ratings missing.data
cp u.data locked.data
chmod 000 locked.data
if [ "$(id -u)" != 0 ]; then
    expect 1 "unreadable file (chmod 000)" "locked.data: cannot open: Permission denied" train --ratings locked.data
elif command -v setpriv >/dev/null &&
    chmod 711 "$T" && setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" --version >/dev/null 2>&1; then
    # root reads anything: run as nobody so the permission bits apply.
    expect 1 "unreadable file (chmod 000, as nobody)" "locked.data: cannot open: Permission denied" \
        setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" train --ratings locked.data --quiet
else
    echo "note: skipped the unreadable-file case: running as root (which reads a chmod 000 file)" \
        "and cannot run $BIN as nobody"
    printf '| unreadable file (chmod 000) | skipped | | running as root, which reads a chmod 000 file, and %s cannot run as nobody |\n' \
        "$(basename "$BIN")" >>"$rows"
fi
expect 1 "directory as --items" "adir: is a directory, expected a file" "$BIN" recommend tr.flm --user 1 --items adir

# ---------------------------------------------------------------- metadata files
printf '1|Caf\xe9 (1995)|01-Jan-1995||http://x|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n2|Bad line\n' >u.item
expect 4 "u.item short line" "u.item:2: expected 24 '|'-separated fields" "$BIN" recommend tr.flm --user 1 --items u.item
printf 'movieId,title,genres\n10,"Foo, The (1999)",Drama\n11,"Unterminated,Drama\n' >movies.csv
expect 4 "movies.csv stray quote" "movies.csv:3: unterminated quoted field" "$BIN" recommend tr.flm --user 1 --items movies.csv
# Latin-1 titles come out as UTF-8.
expect 0 "train on u.data" "" train --ratings "$D/u.data" --out m100.flm
expect 0 "Latin-1 u.item" "" "$BIN" similar m100.flm --item 1 -n 2000 --items "$D/u.item"
grep -q "$(printf 'Mis\xc3\xa9rables, Les (1995)')" out || fail "u.item Latin-1 title not converted to UTF-8"
# The good paths next to the bad ones (valgrind runs this script too).
expect 0 "recommend" "" "$BIN" recommend m100.flm --user 196 -n 5 --items "$D/u.item"
expect 0 "eval" "" "$BIN" eval m100.flm --ratings u.data --json
expect 0 "info" "" "$BIN" info m100.flm

# ---------------------------------------------------------------- new users (item,rating files)
printf 'item,rating\n50,5\n172,x\n' >nu_bad.csv
expect 4 "new user, rating not a number" "nu_bad.csv:3: rating 'x' is not a number" \
    "$BIN" recommend m100.flm --new-user nu_bad.csv
printf '50,5\n172,7\n' >nu_range.csv
expect 4 "new user, rating outside the model's range" "nu_range.csv:2: rating 7 is outside the scale 1..5" \
    "$BIN" recommend m100.flm --new-user nu_range.csv
printf '50,5\n172,4\n50,3\n' >nu_twice.csv
expect 4 "new user, an item twice" "nu_twice.csv:3: item '50' again (first at line 1)" \
    "$BIN" recommend m100.flm --new-user nu_twice.csv
printf '50,5\n99999,4\n' >nu_unknown.csv
expect 3 "new user, unknown item" "nu_unknown.csv: item '99999' is not in m100.flm" \
    "$BIN" recommend m100.flm --new-user nu_unknown.csv
expect 0 "new user, unknown item skipped" "warning: 1 of the 2 ratings in nu_unknown.csv is of an item" \
    "$BIN" recommend m100.flm --new-user nu_unknown.csv --unknown skip -n 3
expect 4 "eval --fold-in, no new user" "u.data: no rating to score" \
    "$BIN" eval m100.flm --ratings u.data --fold-in 5
printf '1\t10\t4\n3\t11\t4\n3\t12\t5\n3\t10\t3\n' >te_new.data
expect 0 "eval --fold-in" "" "$BIN" eval tr.flm --ratings te_new.data --fold-in 2 --json

# ---------------------------------------------------------------- model files
cp tr.flm flipped.flm
size=$(stat -c %s tr.flm)
python3 -c "
b = bytearray(open('flipped.flm', 'rb').read()); b[len(b) - 5] ^= 0x10
open('flipped.flm', 'wb').write(bytes(b))"
expect 5 "corrupt model (one bit), info" "flipped.flm: checksum mismatch: the file is corrupt or was modified" \
    "$BIN" info flipped.flm
head -c $((size / 2)) tr.flm >half.flm
expect 5 "truncated model, info" "half.flm: truncated" "$BIN" info half.flm
expect 5 "truncated model, predict" "half.flm: truncated" "$BIN" predict half.flm --user 1 --item 10
head -c 5 tr.flm >tiny.flm
expect 5 "model of 5 bytes" "tiny.flm: truncated: 5 bytes, too short for the 8-byte header length" "$BIN" info tiny.flm
: >empty.flm
expect 5 "empty model file, eval" "empty.flm: the file is empty; not a model" "$BIN" eval empty.flm --ratings te.data
expect 5 "ratings file as model" "u.data: not a factorlens model file (no safetensors header)" "$BIN" info u.data
expect 1 "directory as model" "adir: is a directory, expected a model file" "$BIN" info adir
expect 1 "missing model" "cannot open model file 'nope.flm': No such file or directory" "$BIN" info nope.flm

# ---------------------------------------------------------------- numbers and options
expect 2 "--scale reversed" "option --scale expects LO,HI with LO < HI, got '5,1'" train --ratings u.data --scale 5,1
expect 2 "--scale not numbers" "option --scale expects LO,HI with LO < HI, got 'abc'" train --ratings u.data --scale abc
expect 2 "--factors overflow" "option --factors expects an integer from 1 to 4096, got '99999999999999999999'" \
    "$BIN" train --ratings u.data --factors 99999999999999999999
expect 2 "--epochs negative" "option --epochs expects an integer from 1 to 100000, got '-1'" \
    "$BIN" train --ratings u.data --epochs -1
expect 2 "--lr nan" "option --lr expects a number >= 0, got 'nan'" train --ratings u.data --lr nan
expect 2 "--duplicates unknown" "option --duplicates" train --ratings u.data --duplicates sometimes

# ---------------------------------------------------------------- divergence keeps the old model
head -n 5000 "$D/u.data" >u5k.data
expect 0 "train u5k" "" train --ratings u5k.data --out keep.flm
cp keep.flm keep.orig
for solver in adam sgd; do
    expect 1 "diverging run ($solver), --out exists" "lower --lr (it is 1e+06)" \
        "$BIN" train --ratings u5k.data --epochs 3 --lr 1e6 --solver $solver --quiet --out keep.flm
    cmp -s keep.flm keep.orig || fail "a diverged $solver run changed the existing --out file"
    for tmp in keep.flm.tmp*; do if [ -e "$tmp" ]; then fail "a diverged $solver run left $tmp"; fi; done
done

if [ -n "$RECORD" ]; then
    {
        echo "# What factorlens says about bad input"
        echo
        echo "Every case of \`tests/e2e_bad_input.sh\`: the command (run in a scratch folder holding"
        echo "the files it names; \`ml-100k\` is \`\$FACTORLENS_DATA/ml-100k\`), its exit code, and"
        echo "what it printed on stderr — the one error line for a failure, the notes (joined"
        echo "by ·) for a success. Exit codes: 0 ok, 1 other error (i/o), 2 usage, 3 unknown"
        echo "user or item, 4 bad input data, 5 bad or corrupt model file. Regenerate with"
        echo
        echo '```sh'
        echo 'FL_RECORD=docs/bad-input.md bash tests/e2e_bad_input.sh build/factorlens'
        echo '```'
        echo
        echo "Generated $(date -u +%Y-%m-%d) by \`$("$BIN" --version 2>/dev/null | head -n 1)\`."
        echo
        echo "| case | command | exit | message |"
        echo "|---|---|---|---|"
        cat "$rows"
    } >"$RECORD"
    echo "recorded $n_cases cases in $RECORD"
fi
echo "e2e_bad_input: all $n_cases cases passed"
