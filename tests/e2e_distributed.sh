#!/usr/bin/env bash
# e2e_distributed.sh — train --distributed over Open MPI on this machine
# (loopback and shared memory, 1, 2, 3 and 4 processes), and --checkpoint /
# --resume with and without MPI:
#   - ALS over 2 and 4 processes trains the model one process trains (the
#     same factors: eval gives the same RMSE to every digit), on ml-100k u1
#     (tab, no header), ml-latest-small (CSV with a header: parts after the
#     first learn the columns from the file's head) and synthetic ratings;
#   - a bad line in the last part is reported with the file's own line number,
#     a pair rated twice in different parts is refused, a gzip file too;
#   - a process killed with SIGKILL mid-run, then --resume, ends with the
#     same model file, byte for byte, as an uninterrupted run (2 processes,
#     and one process without MPI); a resume with other options or another
#     process count is refused with a sentence.
# Under ASan the MPI processes run with leak detection off: Open MPI keeps
# its own allocations to the end (LSan reports them as leaks in libmpi and
# its plugins, not ours); memory errors are still caught, and the
# single-process runs keep leak detection.
# Usage: bash tests/e2e_distributed.sh /path/to/factorlens
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

BIN=${1:?usage: e2e_distributed.sh /path/to/factorlens}
fail() { echo "FAIL: $*" >&2; exit 1; }
[ -x "$BIN" ] || fail "no executable at $BIN"
command -v mpirun >/dev/null || { echo "skipped: no mpirun (scripts/deps installs openmpi-bin)"; exit 77; }
D=${FACTORLENS_DATA:-}
[ -f "$D/ml-100k/u1.base" ] || fail "no MovieLens data: set FACTORLENS_DATA (scripts/data-dir)"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"

. "$HERE/lib/mpi.sh"
rmse_of() { # the "rmse" of eval --json
    "$BIN" eval "$1" --ratings "$2" --json 2>/dev/null | sed -E 's/.*"rmse":([^,]*),"mae":([^,]*),.*/\1 \2/'
}

ALS=(train --solver als --threads 1 --epochs 6 --factors 16)
U1=$D/ml-100k/u1.base
U1T=$D/ml-100k/u1.test

# 1. The same model on 1, 2 and 4 processes.
"$BIN" "${ALS[@]}" --ratings "$U1" --test "$U1T" --out one.flm --quiet >one.out
for np in 2 4; do
    mpi "$np" "${ALS[@]}" --distributed --ratings "$U1" --test "$U1T" --out "d$np.flm" \
        --json >"d$np.json" 2>"d$np.err" || { cat "d$np.err" >&2; fail "$np processes failed"; }
    [ "$(rmse_of "d$np.flm" "$U1T")" = "$(rmse_of one.flm "$U1T")" ] ||
        fail "$np processes trained another model: $(rmse_of "d$np.flm" "$U1T") vs $(rmse_of one.flm "$U1T")"
    grep -q "\"ranks\":$np," "d$np.json" || fail "the JSON does not say $np ranks"
    grep -q '"bytes_per_epoch":[1-9]' "d$np.json" || fail "no bytes counted per epoch"
    [ "$(grep -c '"epoch":' "d$np.json")" = 6 ] || fail "expected 6 epoch lines from process 0 alone"
done
echo "ok: ALS on ml-100k u1 over 1, 2, 4 processes: RMSE $(rmse_of one.flm "$U1T") each"

# 2. A file with a header, over 3 processes; and synthetic ratings.
CSV=$D/ml-latest-small/ratings.csv
if [ -f "$CSV" ]; then
    "$BIN" "${ALS[@]}" --ratings "$CSV" --out csv1.flm --quiet >/dev/null
    mpi 3 "${ALS[@]}" --distributed --ratings "$CSV" --out csv3.flm --quiet >/dev/null
    [ "$(rmse_of csv3.flm "$CSV")" = "$(rmse_of csv1.flm "$CSV")" ] ||
        fail "3 processes on ratings.csv trained another model"
    echo "ok: ml-latest-small ratings.csv (header) over 3 processes: the same model"
fi
awk 'BEGIN { srand(7); for (k = 0; k < 30000; k++) { u = int(rand() * 600); i = int(rand() * 400);
    if (seen[u "," i]++) continue; r = 3 + ((u % 5) - 2) * 0.5 + ((i % 3) - 1) * 0.5 + (rand() - 0.5);
    r = int(r * 2 + 0.5) / 2; if (r < 1) r = 1; if (r > 5) r = 5; print "u" u "\ti" i "\t" r } }' >synth.all
head -n 24000 synth.all >synth.train
tail -n +24001 synth.all >synth.test
"$BIN" "${ALS[@]}" --ratings synth.train --test synth.test --out s1.flm --quiet >/dev/null
mpi 4 "${ALS[@]}" --distributed --ratings synth.train --test synth.test --out s4.flm --quiet >/dev/null
[ "$(rmse_of s4.flm synth.test)" = "$(rmse_of s1.flm synth.test)" ] ||
    fail "4 processes on synthetic ratings trained another model"
echo "ok: synthetic ratings over 4 processes: RMSE $(rmse_of s4.flm synth.test) as one process"

# 3. Bad input: file:line from the part that holds it, duplicates across parts, gzip.
{ cat "$U1"; printf '7\t8\tfive\t881250949\n'; } >bad.data
line=$(wc -l <bad.data)
code=0
mpi 4 "${ALS[@]}" --distributed --ratings bad.data >out 2>err || code=$?
[ "$code" = 4 ] || { cat err >&2; fail "bad line: exit $code, expected 4"; }
grep -q "bad.data:$line: rating 'five' is not a number" err || { cat err >&2; fail "bad line: no file:$line"; }
[ "$(grep -c 'bad.data:' err)" = 1 ] || { cat err >&2; fail "the error should be printed once, by process 0"; }
{ cat "$U1"; head -n 1 "$U1"; } >dup.data
code=0
mpi 2 "${ALS[@]}" --distributed --ratings dup.data >out 2>err || code=$?
[ "$code" = 4 ] && grep -q "more than once" err || { cat err >&2; fail "duplicate across parts: exit $code"; }
gzip -c "$U1" >u1.gz
code=0
mpi 2 "${ALS[@]}" --distributed --ratings u1.gz >out 2>err || code=$?
[ "$code" = 2 ] && grep -q "gzip-compressed" err || { cat err >&2; fail "gzip: exit $code"; }
echo "ok: bad line named as bad.data:$line, duplicates across parts and gzip refused"

# 4. Kill one process mid-run, resume: the same bytes as an uninterrupted run.
LONG=(train --solver als --threads 1 --epochs 20 --factors 16 --ratings "$U1" --test "$U1T")
OTHER=(train --solver als --threads 1 --epochs 20 --factors 8 --ratings "$U1" --test "$U1T")
kill_and_resume 2 20 ALS
kill_and_resume 0 20 ALS

code=0
mpi 2 "${OTHER[@]}" --distributed --checkpoint ck2 --resume >out 2>err || code=$?
[ "$code" = 2 ] && grep -q "written with factors 16, this run has 8" err ||
    { cat err >&2; fail "resume with other options: exit $code"; }
code=0
mpi 3 "${LONG[@]}" --distributed --checkpoint ck2 --resume >out 2>err || code=$?
[ "$code" = 2 ] && grep -q "written with ranks 2, this run has 3" err ||
    { cat err >&2; fail "resume on another process count: exit $code"; }
code=0
"$BIN" "${LONG[@]}" --checkpoint nothing-here --resume >out 2>err || code=$?
[ "$code" = 2 ] && grep -q "no checkpoint to resume from" err || { cat err >&2; fail "resume without a checkpoint: exit $code"; }
echo "ok: resumes with other options, another process count or no checkpoint are refused"
