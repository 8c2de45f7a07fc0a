#!/usr/bin/env bash
# fetch_libmf.sh — prints the path of a LIBMF shared object for the speed benchmark's
# C/C++ peer, fetching it once into the cache. LIBMF (github.com/cjlin1/libmf) is not
# in Debian; the npm package libmf@0.2.0 (github.com/ankane/libmf-node) ships a prebuilt
# x86-64 Linux libmf.so, and the npm registry is reachable from our machines. The
# tarball is checked against a pinned SHA-256 before anything is unpacked.
#
# Note what this binary is: LIBMF built with GCC 5.4 *without* its SSE/AVX kernels
# (no -DUSESSE/-DUSEAVX: `objdump -d` shows scalar mulss/addss in the update, no packed
# or VEX instructions), so it is LIBMF's portable scalar path, not its fastest build.
#
# Usage: bench/fetch_libmf.sh     (LIBMF_CACHE overrides the cache directory)
set -euo pipefail
version=0.2.0
tgz_sha256=dcc6d6abb79fd3226d95ad8726030153c9b65761f1f98fc64d5d8a1d72828bec
cache=${LIBMF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/factorlens/peers/libmf-$version}
so=$cache/libmf.so
if [ -f "$so" ]; then echo "$so"; exit 0; fi
command -v npm >/dev/null || { echo "fetch_libmf.sh: npm is not installed (apt install npm)" >&2; exit 1; }
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "libmf@$version" >/dev/null)
echo "$tgz_sha256  $tmp/libmf-$version.tgz" | sha256sum -c --quiet - ||
    { echo "fetch_libmf.sh: libmf-$version.tgz does not match its pinned SHA-256" >&2; exit 1; }
tar -xzf "$tmp/libmf-$version.tgz" -C "$tmp" package/vendor/libmf.so package/vendor/COPYRIGHT
cp "$tmp/package/vendor/COPYRIGHT" "$cache/COPYRIGHT"
mv "$tmp/package/vendor/libmf.so" "$so.tmp" && mv "$so.tmp" "$so"
echo "$so"
