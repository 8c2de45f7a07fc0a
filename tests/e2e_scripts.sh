#!/usr/bin/env bash
# e2e_scripts.sh — the scripts a new user runs find the MovieLens data in one
# way: scripts/data-dir, used by scripts/test, scripts/demo and .ci/run, finds
# it from $FACTORLENS_DATA, beside the project root, or — in a clone made
# elsewhere with git clone — beside the clone's origin; and says what to do
# when it is nowhere. Each layout is built in a scratch folder.
# Usage: bash tests/e2e_scripts.sh [/path/to/factorlens]   (the binary is not used)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
[ -x "$REPO/scripts/data-dir" ] || fail "no executable scripts/data-dir"
command -v git >/dev/null || fail "git is not installed"
git_q() { git -c user.name=test -c user.email=test@example.com -c init.defaultBranch=main "$@" >/dev/null 2>&1 || fail "git $*"; }

# A project folder holding this checkout's scripts/data-dir, made a git repository.
make_project() {
    mkdir -p "$1/scripts"
    cp "$REPO/scripts/data-dir" "$1/scripts/"
    git_q init "$1"
    git_q -C "$1" add scripts/data-dir
    git_q -C "$1" commit -m "data-dir"
}

# expect_dir NAME WANT CMD...: CMD prints WANT (an existing folder) and exits 0.
expect_dir() {
    local name=$1 want got
    want=$(cd "$2" && pwd)
    shift 2
    got=$("$@" 2>"$T/err") || fail "$name: exit code $? ($(cat "$T/err"))"
    [ "$got" = "$want" ] || fail "$name: printed '$got', expected '$want'"
    pass "$name"
}

# Beside the project root.
mkdir -p "$T/a/shared/data"
make_project "$T/a/factorlens"
expect_dir "shared/data beside the project" "$T/a/shared/data" \
    env -u FACTORLENS_DATA "$T/a/factorlens/scripts/data-dir"

# $FACTORLENS_DATA wins.
mkdir -p "$T/mine"
expect_dir "FACTORLENS_DATA first" "$T/mine" \
    env FACTORLENS_DATA="$T/mine" "$T/a/factorlens/scripts/data-dir"

# A clone made elsewhere finds the data beside its origin (README's case).
mkdir -p "$T/elsewhere"
git_q clone "$T/a/factorlens" "$T/elsewhere/fl"
expect_dir "a clone made elsewhere" "$T/a/shared/data" \
    env -u FACTORLENS_DATA "$T/elsewhere/fl/scripts/data-dir"
(cd "$T/elsewhere" && expect_dir "a clone, run from another folder" "$T/a/shared/data" \
    env -u FACTORLENS_DATA fl/scripts/data-dir)

# The same with this repository itself, when it is a clone-able checkout
# beside its data, as the README describes.
if git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 && [ -d "$REPO/../shared/data" ]; then
    git_q clone "$REPO" "$T/elsewhere/factorlens"
    cp "$REPO/scripts/data-dir" "$T/elsewhere/factorlens/scripts/" # this checkout's version
    expect_dir "a clone of this repository made elsewhere" "$REPO/../shared/data" \
        env -u FACTORLENS_DATA "$T/elsewhere/factorlens/scripts/data-dir"
else
    echo "note: skipped cloning this checkout (not a git repository, or no ../shared/data beside it)"
fi

# Nowhere: exit 1 and a sentence naming FACTORLENS_DATA; the same for a
# FACTORLENS_DATA that is not a folder.
make_project "$T/b/factorlens"
code=0
env -u FACTORLENS_DATA "$T/b/factorlens/scripts/data-dir" >"$T/out" 2>"$T/err" || code=$?
[ "$code" = 1 ] && [ ! -s "$T/out" ] && grep -q "set FACTORLENS_DATA" "$T/err" ||
    fail "no data: exit $code, stdout '$(cat "$T/out")', stderr '$(cat "$T/err")'"
code=0
env FACTORLENS_DATA="$T/none" "$T/a/factorlens/scripts/data-dir" >"$T/out" 2>"$T/err" || code=$?
[ "$code" = 1 ] && grep -q "$T/none" "$T/err" || fail "FACTORLENS_DATA not a folder: exit $code"
pass "no data: a sentence and exit 1"

# One lookup: the scripts ask data-dir and decide nothing themselves.
for s in scripts/test scripts/demo .ci/run; do
    grep -q "scripts/data-dir" "$REPO/$s" || fail "$s does not use scripts/data-dir"
    if grep -q "shared/data" "$REPO/$s"; then fail "$s looks for shared/data itself"; fi
done
pass "scripts/test, scripts/demo and .ci/run use scripts/data-dir"
echo "e2e_scripts: all checks passed"
