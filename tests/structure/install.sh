#!/usr/bin/env bash
# install.sh — `cmake --install` into a temporary prefix, then build a small
# program against what was installed alone (pkg-config, shared and static)
# and run it: the header, the libraries and factorlens.pc must suffice.
# Usage: install.sh BUILD_DIR CC [EXTRA_FLAGS]   (EXTRA_FLAGS: the build's sanitizers)
set -euo pipefail
BUILD=${1:?usage: install.sh BUILD_DIR CC [EXTRA_FLAGS]}
CC=${2:?usage: install.sh BUILD_DIR CC [EXTRA_FLAGS]}
EXTRA=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$T/prefix" >"$T/install.log" || { cat "$T/install.log"; fail "cmake --install"; }
for f in include/factorlens.h bin/factorlens share/factorlens/web/index.html share/factorlens/web/app.js; do
    [ -e "$T/prefix/$f" ] || fail "not installed: $f"
done
pc=$(find "$T/prefix" -name factorlens.pc -print -quit)
[ -n "$pc" ] || fail "factorlens.pc was not installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir factorlens)
[ -e "$libdir/libfactorlens.so" ] && [ -e "$libdir/libfactorlens.a" ] ||
    fail "pkg-config's libdir $libdir holds no libfactorlens.so and .a"
case "$(pkg-config --cflags factorlens)" in *"$T/prefix"*) ;; *) fail "Cflags do not point into the prefix" ;; esac

# Shared: nothing from the source tree on the include path, run from the prefix.
# shellcheck disable=SC2046,SC2086
$CC -std=c11 -Wall -Werror $EXTRA "$HERE/install_probe.c" -o "$T/probe_shared" \
    $(pkg-config --cflags --libs factorlens) || fail "building against the installed shared library"
LD_LIBRARY_PATH="$libdir" "$T/probe_shared" >"$T/out" || fail "the shared probe did not run"
grep -q '^ok: ' "$T/out" || fail "shared probe printed: $(cat "$T/out")"
# ldd's output is kept first: `ldd | grep -q` fails at random under pipefail
# when grep's early exit kills ldd with SIGPIPE.
loaded=$(LD_LIBRARY_PATH="$libdir" ldd "$T/probe_shared")
case "$loaded" in *"$libdir/libfactorlens.so"*) ;; *) fail "the shared probe did not load the installed library: $loaded" ;; esac

# Static: the archive, then what factorlens.pc says it needs (Requires.private
# and Libs.private), linked as shared libraries: Debian ships no static libcurl
# dependencies, so `pkg-config --static --libs` cannot link on it.
deps=$(pkg-config --print-requires-private factorlens | awk '{print $1}')
private=$(sed -n 's/^Libs.private: *//p' "$pc")
# shellcheck disable=SC2046,SC2086
$CC -std=c11 -Wall -Werror $EXTRA "$HERE/install_probe.c" -o "$T/probe_static" \
    $(pkg-config --cflags factorlens) "$libdir/libfactorlens.a" $(pkg-config --libs $deps) $private ||
    fail "building against the installed static library"
"$T/probe_static" >"$T/out" || fail "the static probe did not run"
grep -q '^ok: ' "$T/out" || fail "static probe printed: $(cat "$T/out")"
echo "ok: installed into a temporary prefix; shared and static probes built with pkg-config and ran: $(cat "$T/out")"
