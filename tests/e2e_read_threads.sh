#!/usr/bin/env bash
# e2e_read_threads.sh — a ratings file read on several threads (plain files;
# `--threads`) gives what one thread and the general reader give: split
# writes the same files from a plain copy (read by ranges on all cores) and
# a gzip copy (always the general line-by-line reader); eval's figures do not
# change with --threads; a bad line near the end is reported with the same
# message and exit code (4) whatever the count, and a blank line there does
# not change the ratings.
# Usage: bash tests/e2e_read_threads.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_read_threads.sh /path/to/factorlens}
case $BIN in /*) ;; *) BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN") ;; esac
[ -n "${FACTORLENS_DATA:-}" ] || { echo "skip: FACTORLENS_DATA is not set"; exit 77; }
S=$FACTORLENS_DATA/ml-latest-small/ratings.csv
[ -r "$S" ] || { echo "skip: no ml-latest-small/ratings.csv"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T" # relative names keep the messages comparable
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# 2.4 MB with a header, CRLF-free, comma-separated: over a MiB per thread on
# two cores, so the default (--threads 0) reads it by ranges.
cp "$S" r.csv
gzip -c r.csv >g.csv.gz
"$BIN" split --ratings r.csv --holdout 0.2 --seed 3 --out-prefix p >/dev/null
"$BIN" split --ratings g.csv.gz --holdout 0.2 --seed 3 --out-prefix q >/dev/null
cmp -s p.train q.train && cmp -s p.test q.test || fail "split of the plain and the gzip copy differ"
pass "split: plain (ranges) and gzip (general reader) give the same files"

"$BIN" train --ratings p.train --epochs 2 --factors 8 --threads 1 --quiet --out m.flm >/dev/null
for t in 1 2 3; do
    "$BIN" eval m.flm --ratings p.test --threads "$t" --json >"e$t.json" 2>/dev/null
done
cmp -s e1.json e2.json && cmp -s e1.json e3.json || fail "eval's figures change with --threads"
pass "eval --threads 1, 2, 3: the same figures"

# A malformed line near the end: one message, one exit code, any count.
n=$(wc -l <r.csv)
awk -v n="$n" 'NR == n - 3 { print "1,2,three,964982703"; next } { print }' r.csv >bad.csv
for t in 1 2 4; do
    set +e
    "$BIN" train --ratings bad.csv --threads "$t" --epochs 1 --quiet >/dev/null 2>"train$t.err"
    rc=$?
    set -e
    [ "$rc" = 4 ] || fail "a malformed line with --threads $t: exit $rc, expected 4"
done
grep -q "^factorlens: bad.csv:$((n - 3)): rating 'three' is not a number" train1.err \
    || fail "unexpected message: $(cat train1.err)"
cmp -s train1.err train2.err && cmp -s train1.err train4.err || fail "the message changes with --threads"
pass "a malformed line at $((n - 3)) of $n: the same message with 1, 2 and 4 threads"

# A blank line late in the file: the general reader takes over, same ratings.
awk -v n="$n" 'NR == n - 3 { print ""; next } { print }' r.csv >blank.csv
awk -v n="$n" 'NR != n - 3' r.csv >gone.csv
"$BIN" split --ratings blank.csv --holdout 0.2 --seed 3 --out-prefix b >/dev/null
"$BIN" split --ratings gone.csv --holdout 0.2 --seed 3 --out-prefix c >/dev/null
cmp -s b.train c.train && cmp -s b.test c.test || fail "a blank line changed the ratings"
pass "a blank line late in the file"
