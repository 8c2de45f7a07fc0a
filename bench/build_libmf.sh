#!/usr/bin/env bash
# build_libmf.sh — builds LIBMF (github.com/cjlin1/libmf) from a checkout of its public
# source, as its own Makefile does (g++ -O3 -march=native -fopenmp -DUSEOMP), twice: with
# its SSE kernel (-DUSESSE, the Makefile's default) and with its AVX kernel (-DUSEAVX
# -mavx), each as the shared library and as its command-line trainer (mf-train.cpp).
# Prints "sse SO MF_TRAIN" and "avx SO MF_TRAIN", one per line. bench/speed.sh runs both
# libraries and bench/time_to_target.sh both trainers, and each takes the faster as the
# peer: the build LIBMF's users run, not the scalar one.
#
# Usage: LIBMF_SRC=DIR bench/build_libmf.sh   (LIBMF_CACHE: where the builds go)
# Pinned: commit 1498368 ("Fix iterator type so that it matches boundary condition
# type (#48)"); mf.cpp's SHA-256 at that commit is checked before building.
set -euo pipefail
src=${LIBMF_SRC:?set LIBMF_SRC to a checkout of cjlin1/libmf (commit 1498368)}
mf_sha256=82b3c6ed2cab4268da780cd884b7fdaaca3af6c1bdf0560f7c064b2c11f9b9bc
[ -f "$src/mf.cpp" ] && [ -f "$src/mf.h" ] && [ -f "$src/mf-train.cpp" ] || { echo "build_libmf.sh: no mf.cpp/mf.h in $src" >&2; exit 1; }
echo "$mf_sha256  $src/mf.cpp" | sha256sum -c --quiet - ||
    { echo "build_libmf.sh: $src/mf.cpp is not the pinned commit's (1498368)" >&2; exit 1; }
# -march=native: a build belongs to the CPU it was made on, so the CPU names its folder.
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sha256sum | cut -c1-12)
cache=${LIBMF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/factorlens/peers/libmf-src-1498368-$cpu}
mkdir -p "$cache"
for kind in sse avx; do
    case $kind in
    sse) flags=(-DUSESSE) ;;
    avx) flags=(-DUSEAVX -mavx) ;;
    esac
    so=$cache/libmf-$kind.so
    if [ ! -f "$so" ]; then
        g++ -Wall -O3 -pthread -std=c++0x -march=native -fopenmp -DUSEOMP "${flags[@]}" \
            -shared -fPIC -o "$so.tmp" "$src/mf.cpp"
        mv "$so.tmp" "$so"
    fi
    cli=$cache/mf-train-$kind
    if [ ! -f "$cli" ]; then
        g++ -Wall -O3 -pthread -std=c++0x -march=native -fopenmp -DUSEOMP "${flags[@]}" \
            -o "$cli.tmp" "$src/mf-train.cpp" "$src/mf.cpp"
        mv "$cli.tmp" "$cli"
    fi
    echo "$kind $so $cli"
done
