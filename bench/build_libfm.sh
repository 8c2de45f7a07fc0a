#!/usr/bin/env bash
# build_libfm.sh — builds libFM (github.com/srendle/libfm, Steffen Rendle's reference
# factorization-machine tool) from a checkout of its public source, outside the
# repository, twice: with its own Makefile's flags (g++ -O3 -Wall; src/libfm/Makefile)
# and with -O3 -march=native added, since which of the two is its best build on a CPU
# is for the timing run to find out. Each build is a folder holding libFM and the
# Makefile's two tools, convert (text to libFM's binary format) and transpose, which
# the block-structure (--relation) input needs. Prints "default DIR" and "native DIR",
# one per line. Builds are cached; bench/accuracy.sh with LIBFM_SRC runs the peer.
#
# Usage: LIBFM_SRC=DIR bench/build_libfm.sh   (LIBFM_CACHE: where the builds go)
#   e.g. git -C /path/to/libfm archive 30b9c79 | tar -x -C DIR
# Pinned: commit 30b9c79 ("Code cleanup: reorganize class declarations"); the SHA-256 of
# libfm.cpp (the main source file) and of the MCMC learner it includes are checked.
set -euo pipefail
src=${LIBFM_SRC:?set LIBFM_SRC to a checkout of srendle/libfm (commit 30b9c79)}
die() { echo "build_libfm.sh: $*" >&2; exit 1; }
[ -f "$src/src/libfm/libfm.cpp" ] || die "no src/libfm/libfm.cpp in $src"
sha256sum -c --quiet - <<EOS || die "$src is not the pinned commit's source (30b9c79)"
6b1ebeb751f5e6e9dab548be7a0052fdfaa1cbc331e0e119639cf1205cd79ceb  $src/src/libfm/libfm.cpp
011022d8ad9eaceed2877dbcf1a2f2dfde1dd07c64db706e753ddfa6e692452e  $src/src/libfm/src/fm_learn_mcmc_simultaneous.h
1d73cacb67991f9cc129de3fd2aabf3ba77b0cc2d4ae8c25b3dcbd4c794640b7  $src/src/libfm/tools/convert.cpp
3a1ff7c893a00efa034ed07a4f0527ad7cf1f69c40255c44847180cca01a5750  $src/src/libfm/tools/transpose.cpp
EOS
# -march=native: a build belongs to the CPU it was made on, so the CPU names its folder.
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sha256sum | cut -c1-12)
cache=${LIBFM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/factorlens/peers/libfm-src-30b9c79-$cpu}
for kind in default native; do
    case $kind in
    default) flags=(-O3 -Wall) ;;  # src/libfm/Makefile's
    native) flags=(-O3 -Wall -march=native) ;;
    esac
    dir=$cache/$kind
    if [ ! -x "$dir/libFM" ] || [ ! -x "$dir/convert" ] || [ ! -x "$dir/transpose" ]; then
        mkdir -p "$dir.tmp"
        for prog in libfm:libFM tools/convert:convert tools/transpose:transpose; do
            g++ "${flags[@]}" "$src/src/libfm/${prog%%:*}.cpp" -o "$dir.tmp/${prog#*:}" ||
                die "g++ failed on ${prog%%:*}.cpp ($kind)"
        done
        rm -rf "$dir"
        mv "$dir.tmp" "$dir"
    fi
    echo "$kind $dir"
done
