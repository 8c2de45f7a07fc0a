#!/usr/bin/env bash
# e2e_dsgd.sh — train --distributed --solver sgd (DSGD strata, item blocks
# passed round a ring) and factorlens shard, over Open MPI on this machine:
#   - DSGD on 2 and 4 processes reaches the test RMSE of one process's SGD
#     within 0.002 (same epochs and parameters), on ml-100k u1 and on
#     synthetic ratings; blocks hold about 1/N of the ratings each (the
#     JSON's imbalance under 1.05);
#   - the same seed and process count give the same model file, byte for byte;
#   - a process killed with SIGKILL mid-run, then --resume, ends with the
#     same model file as an uninterrupted run (2 processes, and one process
#     without MPI); a resume with another --lr, or a thread count that
#     lays the blocks out otherwise, is refused;
#   - shard writes N parts and a manifest; training from the directory
#     (plain or --gzip) gives the model the file gives; a changed part and a
#     bad line are refused with the file's name (and line), exit 4.
# Under ASan the MPI processes run with leak detection off (see
# tests/lib/mpi.sh: Open MPI's own allocations).
# Usage: bash tests/e2e_dsgd.sh /path/to/factorlens
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

BIN=${1:?usage: e2e_dsgd.sh /path/to/factorlens}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "no executable at $BIN"
command -v mpirun >/dev/null || { echo "skipped: no mpirun (scripts/deps installs openmpi-bin)"; exit 77; }
D=${FACTORLENS_DATA:-}
[ -f "$D/ml-100k/u1.base" ] || fail "no MovieLens data: set FACTORLENS_DATA (scripts/data-dir)"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"

. "$HERE/lib/mpi.sh"
field() { # field NAME FILE: a number from the last JSON line of FILE
    tail -n 1 "$2" | sed -E "s/.*\"$1\":([^,}]*).*/\\1/"
}
rmse_of() { # the "rmse" of eval --json
    "$BIN" eval "$1" --ratings "$2" --json 2>/dev/null | sed -E 's/.*"rmse":([^,]*),.*/\1/'
}
close() { # close A B: |A - B| <= 0.002
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.002) }'
}

SGD=(train --solver sgd --threads 1 --factors 16 --seed 3)
U1=$D/ml-100k/u1.base
U1T=$D/ml-100k/u1.test
awk 'BEGIN { srand(7); for (k = 0; k < 30000; k++) { u = int(rand() * 600); i = int(rand() * 400);
    if (seen[u "," i]++) continue; r = 3 + ((u % 5) - 2) * 0.5 + ((i % 3) - 1) * 0.5 + (rand() - 0.5);
    r = int(r * 2 + 0.5) / 2; if (r < 1) r = 1; if (r > 5) r = 5; print "u" u "\ti" i "\t" r } }' >synth.all
head -n 24000 synth.all >synth.train
tail -n +24001 synth.all >synth.test

# 1. Accuracy against one process, balance, and the same bytes twice.
for set in u1 synth; do
    if [ "$set" = u1 ]; then tr=$U1 te=$U1T; else tr=synth.train te=synth.test; fi
    "$BIN" "${SGD[@]}" --ratings "$tr" --test "$te" --json >"$set.1.json"
    one=$(field test_rmse "$set.1.json")
    for np in 2 4; do
        mpi "$np" "${SGD[@]}" --distributed --ratings "$tr" --test "$te" --out "$set.$np.flm" \
            --json >"$set.$np.json" 2>"$set.$np.err" || { cat "$set.$np.err" >&2; fail "$set: $np processes failed"; }
        got=$(field test_rmse "$set.$np.json")
        close "$got" "$one" || fail "$set: DSGD on $np processes RMSE $got, one process $one"
        awk -v a="$(rmse_of "$set.$np.flm" "$te")" -v b="$got" 'BEGIN { d = a - b; exit !(d < 1e-6 && d > -1e-6) }' ||
            fail "$set: the saved model does not score what training reported (up to the order of sums)"
        awk -v x="$(field imbalance "$set.$np.json")" 'BEGIN { exit !(x >= 1 && x < 1.05) }' ||
            fail "$set: $np processes unbalanced: imbalance $(field imbalance "$set.$np.json")"
        awk -v x="$(field stratum_imbalance "$set.$np.json")" 'BEGIN { exit !(x >= 1 && x < 1.3) }' ||
            fail "$set: $np processes: sub-epochs unbalanced: $(field stratum_imbalance "$set.$np.json")"
        [ "$(grep -c '"epoch":' "$set.$np.json")" = 20 ] || fail "expected 20 epoch lines from process 0 alone"
        echo "ok: $set DSGD on $np processes RMSE $got, one process $one, imbalance $(field imbalance "$set.$np.json"), strata $(field stratum_imbalance "$set.$np.json")"
    done
done
mpi 2 "${SGD[@]}" --distributed --ratings "$U1" --test "$U1T" --out again.flm --quiet >/dev/null
cmp -s again.flm u1.2.flm || fail "the same seed on 2 processes gave another model"
T2=(train --solver sgd --threads 2 --factors 16 --seed 3 --epochs 5 --ratings "$U1" --test "$U1T" --quiet)
mpi 2 "${T2[@]}" --distributed --out t2a.flm >/dev/null
mpi 2 "${T2[@]}" --distributed --out t2b.flm >/dev/null
cmp -s t2a.flm t2b.flm || fail "2 processes of 2 threads gave two models from one seed"
echo "ok: the same seed, process count and threads (1 and 2 per process) give the same model bytes"

# 2. Kill one process mid-run, resume: the same bytes as an uninterrupted run.
LONG=("${SGD[@]}" --epochs 30 --ratings "$U1" --test "$U1T")
kill_and_resume 2 30 DSGD
kill_and_resume 0 30 DSGD
code=0
"$BIN" "${LONG[@]}" --lr 0.01 --checkpoint ck0 --resume >out 2>err || code=$?
[ "$code" = 2 ] && grep -q "written with lr" err || { cat err >&2; fail "resume with another --lr: exit $code"; }
code=0
"$BIN" train --solver sgd --threads 6 --factors 16 --seed 3 --epochs 30 --ratings "$U1" --test "$U1T" \
    --checkpoint ck0 --resume >out 2>err || code=$?
[ "$code" = 2 ] && grep -q "resume with the same --threads" err || { cat err >&2; fail "resume on another sub-grid: exit $code"; }
echo "ok: a resume with another --lr, or --threads that lay out other blocks, is refused"

# 3. shard: parts, manifest, the same training from the directory; bad parts refused.
"$BIN" shard --ratings "$U1" --parts 4 --out sh >out || fail "shard failed"
"$BIN" shard --ratings "$U1" --parts 4 --out shz --gzip >out || fail "shard --gzip failed"
[ "$(ls sh | wc -l)" = 5 ] && grep -q '^ratings 80000$' sh/shards.txt || fail "shard: not 4 parts and a manifest of 80000 ratings"
gzip -t shz/part-00003-of-00004.txt.gz || fail "shard --gzip: not a gzip file"
for dir in sh shz; do
    mpi 2 "${SGD[@]}" --distributed --ratings "$dir" --test "$U1T" --out "$dir.flm" --quiet >/dev/null
    [ "$(rmse_of "$dir.flm" "$U1T")" = "$(rmse_of u1.2.flm "$U1T")" ] ||
        fail "training from $dir gave another model than from the file"
done
echo "ok: shard into 4 parts (plain and gzip): 2 processes train the file's model from them"
cp -r sh shbad
printf '7\t8\t5\t881250949\n' >>shbad/part-00001-of-00004.txt
code=0
mpi 2 "${SGD[@]}" --distributed --ratings shbad >out 2>err || code=$?
[ "$code" = 4 ] && grep -q "part-00001-of-00004.txt: .* bytes where .*shards.txt lists" err ||
    { cat err >&2; fail "a changed part: exit $code"; }
{ cat "$U1"; printf '7\t8\tfive\t881250949\n'; } >bad.data
code=0
"$BIN" shard --ratings bad.data --parts 3 --out shx >out 2>err || code=$?
[ "$code" = 4 ] && grep -q "bad.data:80001: rating 'five' is not a number" err ||
    { cat err >&2; fail "shard of a bad line: exit $code"; }
[ ! -e shx/shards.txt ] || fail "a failed shard wrote a manifest"
echo "ok: a changed part and a bad line are refused (exit 4, file and line named)"
