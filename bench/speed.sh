#!/usr/bin/env bash
# speed.sh — training throughput of factorlens (bench/speed.c, biased model, SGD) and of
# two peers on the same synthetic split, with matching thread counts: LIBMF, the C++
# parallel-SGD library (bench/fetch_libmf.sh says which build; fl-bench-speed loads it
# and runs it right after factorlens at every grid point), and a PyTorch peer
# (bench/peer_torch_speed.py: the same biased model with torch.optim.Adam, batch 1024).
# Prints factorlens's full grid with LIBMF's rows, then updates/s of each and the ratios.
#
# Usage: bench/speed.sh [BUILD_DIR]        (default: build; needs `--target bench` built)
# Environment (defaults in brackets):
#   SIZE [5M]  FACTORS [16,32,64,128]  THREADS [1,2]  EPOCHS [10]      factorlens grid
#   PEER_FACTORS [32]  PEER_THREADS [$THREADS]  PEER_EPOCHS [5]  peer grid (it overfits
#   after ~3-4 epochs at 5M and runs ~30 s per epoch)
#   PEER_SPARSE [0]: 1 also runs the peer with sparse gradients + SparseAdam
#   PEER_PYTHON [/usr/bin/python3, needs torch]; FL_BENCH_NO_PEER=1 skips both peers
#   ROUNDS [1]: each factorlens/LIBMF grid point runs this many times, alternating
#   LIBMF_SO [bench/fetch_libmf.sh's]: LIBMF shared object; FL_BENCH_NO_LIBMF=1 skips it
#   LIBMF_SRC: a checkout of LIBMF's source (bench/build_libmf.sh: commit 1498368). The
#     grid then runs once against each of its SIMD builds (SSE and AVX, made here with
#     its own flags), and a last table compares factorlens with the faster of the two at
#     every point: LIBMF at its best. (LIBMF_SO's scalar package build is not run then.)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build}
speed=$build/bench/fl-bench-speed
py=${PEER_PYTHON:-/usr/bin/python3}
size=${SIZE:-5M}
factors=${FACTORS:-16,32,64,128}
threads=${THREADS:-1,2}
epochs=${EPOCHS:-10}
peer_factors=${PEER_FACTORS:-32}
peer_threads=${PEER_THREADS:-$threads}
peer_epochs=${PEER_EPOCHS:-5}

die() { echo "speed.sh: $*" >&2; exit 1; }
[ -x "$speed" ] || die "no $speed: build it with 'cmake --build $build --target bench'"

work=$(mktemp -d /tmp/fl-speed.XXXXXX)
trap 'rm -rf "$work"' EXIT

rounds=${ROUNDS:-1}
if [ -n "${LIBMF_SRC:-}" ] && [ "${FL_BENCH_NO_LIBMF:-0}" != 1 ]; then
    builds=$("$here/build_libmf.sh") || die "could not build LIBMF from $LIBMF_SRC"
    while read -r kind so _; do
        echo "== factorlens and LIBMF ($kind build): fl-bench-speed --ratings $size --factors $factors --threads $threads --epochs $epochs --rounds $rounds --libmf $so"
        "$speed" --ratings "$size" --factors "$factors" --threads "$threads" --epochs "$epochs" \
            --rounds "$rounds" --libmf "$so" --json "$work/fl-$kind.json"
    done <<<"$builds"
    cat "$work"/fl-*.json | grep '"trainer":"factorlens"' >"$work/fl.json"
    echo
    echo "== factorlens against LIBMF at its best (the faster of its SSE and AVX builds at each point;"
    echo "   factorlens: the median of its runs beside both builds; updates/s per epoch)"
    python3 - "$work/fl-sse.json" "$work/fl-avx.json" <<'EOF'
import json, statistics, sys
runs = {}
for path, kind in zip(sys.argv[1:], ("sse", "avx")):
    for line in open(path):
        r = json.loads(line)
        key = (r["factors"], r["threads"])
        who = "factorlens" if r["trainer"] == "factorlens" else kind
        runs.setdefault(key, {}).setdefault(who, []).append(r["updates_per_s"])
print("| k | threads | factorlens | LIBMF SSE | LIBMF AVX | LIBMF best | factorlens / best |")
print("|---|---|---|---|---|---|---|")
for (k, t), v in sorted(runs.items()):
    f = statistics.median(v["factorlens"])
    sse, avx = statistics.median(v["sse"]), statistics.median(v["avx"])
    best = max(sse, avx)
    print(f"| {k} | {t} | {f/1e6:.1f} M | {sse/1e6:.1f} M | {avx/1e6:.1f} M | "
          f"{'AVX' if avx >= sse else 'SSE'} | {f/best:.2f}x |")
EOF
else
    libmf=()
    if [ "${FL_BENCH_NO_PEER:-0}" != 1 ] && [ "${FL_BENCH_NO_LIBMF:-0}" != 1 ]; then
        so=${LIBMF_SO:-$("$here/fetch_libmf.sh")} || die "no LIBMF (set LIBMF_SO, or FL_BENCH_NO_LIBMF=1)"
        libmf=(--libmf "$so")
    fi
    echo "== factorlens: fl-bench-speed --ratings $size --factors $factors --threads $threads --epochs $epochs --rounds $rounds ${libmf[*]}"
    "$speed" --ratings "$size" --factors "$factors" --threads "$threads" --epochs "$epochs" \
        --rounds "$rounds" "${libmf[@]}" --json "$work/fl.json"
fi
[ "${FL_BENCH_NO_PEER:-0}" = 1 ] && exit 0
"$py" -c 'import torch' 2>/dev/null || die "$py lacks torch (set PEER_PYTHON or FL_BENCH_NO_PEER=1)"

# The peer trains on the very split factorlens used, and is timed against the same target.
"$speed" --ratings "$size" --dump "$work/split.bin" 2>/dev/null
target=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["target_rmse"])' "$work/fl.json")
variants=("")
[ "${PEER_SPARSE:-0}" = 1 ] && variants+=("--sparse")
for k in ${peer_factors//,/ }; do
    for t in ${peer_threads//,/ }; do
        for v in "${variants[@]}"; do
            echo "== peer: peer_torch_speed.py --factors $k --threads $t --epochs $peer_epochs $v" >&2
            # shellcheck disable=SC2086
            "$py" "$here/peer_torch_speed.py" "$work/split.bin" --factors "$k" --threads "$t" \
                --epochs "$peer_epochs" --target "$target" $v | tail -n 1 >>"$work/peer.json"
        done
    done
done

echo
echo "== factorlens vs PyTorch peer ($size ratings, target test RMSE $target; seconds are training only)"
python3 - "$work/fl.json" "$work/peer.json" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fl = {(r["factors"], r["threads"]): r for r in rows if r.get("trainer") == "factorlens"}
peers = [json.loads(l) for l in open(sys.argv[2])]
def tt(s, e):
    return "not reached" if not e or s is None or s < 0 else f"{s:.2f} s (ep {e})"
print("| k | threads | factorlens updates/s | peer | peer updates/s | factorlens / peer | "
      "factorlens to target | peer to target | factorlens RMSE | peer RMSE | factorlens peak MB | peer peak MB (torch alone) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for p in peers:
    f = fl.get((p["factors"], p["threads"]))
    if not f:
        continue
    print(f"| {p['factors']} | {p['threads']} | {f['updates_per_s']/1e6:.2f} M | {p['peer']} | "
          f"{p['updates_per_s']/1e6:.3f} M | {f['updates_per_s']/p['updates_per_s']:.0f}x | "
          f"{tt(f['solve_s_to_target'], f['epochs_to_target'])} | "
          f"{tt(p['train_s_to_target'], p['epochs_to_target'])} | {f['final_test_rmse']:.4f} | "
          f"{p['final_test_rmse']:.4f} | {f['peak_rss_mb']:.0f} | "
          f"{p['peak_rss_mb']:.0f} ({p['base_rss_mb']:.0f}) |")
EOF
