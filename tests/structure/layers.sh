#!/usr/bin/env bash
# layers.sh — the build enforces the layering of docs/architecture.md: with a
# layer's include path, every header of its allowed layers compiles and a
# header of any other layer does not; and no source escapes with "../".
# Usage: layers.sh CC SRC_DIR LAYERS_DIR LAYER:DEP,DEP ...
#   e.g. layers.sh cc src build/layers core: data:core models:core,data cli:
set -euo pipefail
CC=${1:?usage: layers.sh CC SRC_DIR LAYERS_DIR LAYER:DEPS ...}
SRC=${2:?}
LAYERS=${3:?}
shift 3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
INCLUDE=$(cd "$SRC/../include" && pwd)
status=0
all=()
for spec in "$@"; do all+=("${spec%%:*}"); done

compiles() { # compiles LAYER HEADER
    printf '#include "%s"\nint fl_layers_probe;\n' "$2" >"$T/probe.c"
    $CC -std=c11 -fsyntax-only -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
        -I"$INCLUDE" -I"$LAYERS/$1" "$T/probe.c" 2>"$T/err"
}

checked=0
for spec in "$@"; do
    layer=${spec%%:*}
    allowed=" $layer $(echo "${spec#*:}" | tr ',' ' ') "
    [ -d "$LAYERS/$layer" ] || { echo "FAIL: no include folder for layer $layer in $LAYERS" >&2; exit 1; }
    for other in "${all[@]}"; do
        hdrs=$(cd "$SRC" && ls "$other"/*.h 2>/dev/null || true)
        [ -n "$hdrs" ] || continue
        if [[ "$allowed" == *" $other "* ]]; then
            for h in $hdrs; do
                checked=$((checked + 1))
                compiles "$layer" "$h" ||
                    { echo "FAIL: $layer may include $h, but it does not compile there:" >&2; cat "$T/err" >&2; status=1; }
            done
        else
            h=${hdrs%%$'\n'*} # (not `echo | head`: SIGPIPE under pipefail)
            checked=$((checked + 1))
            if compiles "$layer" "$h"; then
                echo "FAIL: $layer must not include $h, yet it compiles with $layer's include path" >&2
                status=1
            fi
        fi
    done
done
if grep -rn '#include "\.\./' "$SRC" >"$T/up"; then
    echo "FAIL: includes that climb out of their layer's folder:" >&2
    cat "$T/up" >&2
    status=1
fi
[ $status = 0 ] && echo "ok: $checked include checks over ${#all[@]} layers; no '../' includes"
exit $status
