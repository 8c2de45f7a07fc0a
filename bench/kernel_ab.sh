#!/usr/bin/env bash
# kernel_ab.sh — the SGD kernel (src/train/sgd_simd*.{c,h}) of two git revisions, alone,
# alternating in one process (bench/kernel_ab.c), for kernel changes that separate
# benchmark runs on a noisy host cannot resolve. Prints each build's rating updates/s on
# one block, the ratio B/A and whether the two left the same bits. Each build runs the
# kernel fl_sgd_pick chooses on this CPU.
#
# Usage: bench/kernel_ab.sh [REV_A [REV_B [USERS ITEMS K RATINGS REPS [WINDOW]]]]
#   REV_A, REV_B: git revisions (default HEAD~1 and HEAD); WORK is the working tree.
#   The rest: default 4167 1488 32 70000 60, the block shape of fl-bench-speed's 5M data.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
rev_a=${1:-HEAD~1}
rev_b=${2:-HEAD}
shift $(($# < 2 ? $# : 2))
[ $# -gt 0 ] || set -- 4167 1488 32 70000 60

work=$(mktemp -d /tmp/fl-kernel-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
flags=(-std=c11 -O2 -DNDEBUG -ffp-contract=fast -Wall -Wextra -Werror -Wno-psabi
       -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE)
for side in A B; do
    rev=$rev_a
    [ $side = B ] && rev=$rev_b
    mkdir -p "$work/$side/train"
    for f in sgd_simd.c sgd_simd.h sgd_simd_body.inc; do
        if [ "$rev" = WORK ]; then
            cp "$repo/src/train/$f" "$work/$side/train/$f"
        else
            git -C "$repo" show "$rev:src/train/$f" >"$work/$side/train/$f"
        fi
    done
    gcc "${flags[@]}" -I"$work/$side" -c "$work/$side/train/sgd_simd.c" -o "$work/$side.o" \
        -Dfl_sgd_kernel_generic=${side}_sgd_generic -Dfl_sgd_kernel_avx2=${side}_sgd_avx2 \
        -Dfl_sgd_kernel_avx2w=${side}_sgd_avx2w -Dfl_sgd_kernel_avx512=${side}_sgd_avx512 -Dfl_sgd_pick=${side}_sgd_pick -Dfl_cpu_has_prefetchw=${side}_cpu_has_prefetchw
done
gcc "${flags[@]}" -I"$work/B" "$here/kernel_ab.c" "$work/A.o" "$work/B.o" -lm -o "$work/kernel_ab"
echo "A = $rev_a, B = $rev_b"
"$work/kernel_ab" "$@"
