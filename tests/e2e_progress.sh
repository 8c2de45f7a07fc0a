#!/usr/bin/env bash
# e2e_progress.sh — what `factorlens train` shows on a terminal: a line for
# every part of the command (reading each file, preparing, the epochs,
# finishing, saving), and on a pipe, with --quiet or with --json's lines,
# nothing of it. A pty comes from util-linux's script(1).
# Usage: bash tests/e2e_progress.sh /path/to/factorlens
set -euo pipefail

BIN=${1:?usage: e2e_progress.sh /path/to/factorlens}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "no executable at $BIN"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
command -v script >/dev/null || { echo "skipped: script(1) (util-linux) is not installed"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
python3 -c "
for u in range(300):
    for i in range(40): print(f'{u}\t{(u * 7 + i) % 500}\t{1 + (u + i) % 5}')" >r.train
python3 -c "
for u in range(300): print(f'{u}\t{(u * 7 + 45) % 500}\t{1 + u % 5}')" >r.test
TRAIN=(train --ratings r.train --test r.test --epochs 2 --threads 1 --out m.flm)

# On a terminal: every part names itself (the labels are drawn as soon as
# the part begins, so even a fast run shows them).
script -qec "$(printf '%q ' "$BIN" "${TRAIN[@]}")" /dev/null >tty.out 2>&1 ||
    { cat tty.out >&2; fail "train on a pty failed"; }
for want in "reading r.train" "reading r.test" "preparing" "finishing" "saving m.flm" "2/2"; do
    grep -qa -- "$want" tty.out || { cat -v tty.out >&2; fail "no '$want' on the terminal"; }
done

# On a pipe: stderr stays empty and stdout has no carriage returns.
"$BIN" "${TRAIN[@]}" >out 2>err || fail "train on a pipe failed"
[ ! -s err ] || { cat err >&2; fail "progress written to a non-terminal stderr"; }
! grep -qa $'\r' out || fail "carriage returns on a non-terminal stdout"
grep -q "^ *2/2 " out || fail "no epoch line on a pipe"

# --quiet on a terminal: no bars.
script -qec "$(printf '%q ' "$BIN" "${TRAIN[@]}" --quiet)" /dev/null >quiet.out 2>&1 ||
    fail "train --quiet on a pty failed"
for unwanted in reading preparing finishing saving; do
    ! grep -qa "$unwanted" quiet.out || { cat -v quiet.out >&2; fail "'$unwanted' shown with --quiet"; }
done

# --json: stdout is JSON lines only, whatever stderr shows.
"$BIN" "${TRAIN[@]}" --json >json.out 2>/dev/null || fail "train --json failed"
python3 -c "
import json, sys
for line in open('json.out'): json.loads(line)" || fail "--json output is not JSON lines"
echo "ok: reading, preparing, epochs, finishing and saving shown on a terminal only"
