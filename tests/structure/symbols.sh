#!/usr/bin/env bash
# symbols.sh — the shared library exports exactly the functions
# include/factorlens.h declares with FL_API, and the CLI's objects call no
# library function outside them.
# Usage: symbols.sh LIBFACTORLENS.so HEADER [CLI_OBJECT...]
set -euo pipefail
LIB=${1:?usage: symbols.sh LIB HEADER [CLI_OBJECT...]}
HDR=${2:?usage: symbols.sh LIB HEADER [CLI_OBJECT...]}
shift 2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Declared: every function declaration at the top level of the header (a
# line starting in column 0, not a typedef or directive, naming fl_...( ).
grep -E '^[A-Za-z_].*\<fl_[a-z0-9_]+ *\(' "$HDR" | grep -Ev '^(typedef|#)' >"$T/decl_lines" || true
sed -E 's/\(.*//; s/.*[ *]//' "$T/decl_lines" | sort -u >"$T/declared"
[ -s "$T/declared" ] || { echo "FAIL: no function declarations found in $HDR" >&2; exit 1; }
unmarked=$(grep -v '^FL_API ' "$T/decl_lines" || true)
if [ -n "$unmarked" ]; then
    echo "FAIL: declared without FL_API (so not exported):" >&2
    echo "$unmarked" >&2
    exit 1
fi
# Exported: every defined dynamic symbol, less the ones the toolchain adds
# (section bounds, and the sanitizers' bookkeeping in instrumented builds).
nm -D --defined-only "$LIB" | awk '{print $NF}' |
    grep -Ev '^(_init|_fini|_edata|_end|__bss_start|__odr_asan.*|__asan.*|__ubsan.*|__tsan.*|__sancov.*)$' |
    sort -u >"$T/exported"

status=0
extra=$(comm -23 "$T/exported" "$T/declared")
missing=$(comm -13 "$T/exported" "$T/declared")
if [ -n "$extra" ]; then
    echo "FAIL: exported but not declared in $(basename "$HDR"):" $extra >&2
    status=1
fi
if [ -n "$missing" ]; then
    echo "FAIL: declared but not exported:" $missing >&2
    status=1
fi
# The CLI links the static archive, which holds the internals too; its own
# objects must still reach only the public API.
for o in "$@"; do
    bad=$(nm -u "$o" | awk '{print $NF}' | { grep -E '^fl_' || true; } | sort -u | comm -23 - "$T/declared")
    if [ -n "$bad" ]; then
        echo "FAIL: $(basename "$o") calls library internals:" $bad >&2
        status=1
    fi
done
[ $status = 0 ] && echo "ok: $(wc -l <"$T/exported") exported symbols, all declared; $# CLI objects use only them"
exit $status
