# mpi.sh — sourced by the distributed e2e tests after BIN and fail are set:
# Open MPI set up for one machine in a container, `mpi NP ARGS...` running
# the CLI on NP processes, and the kill-and-resume check (the caller defines
# LONG, the train arguments of a run of EPOCHS epochs).

# Open MPI in a container: shared memory between the processes of this one
# machine, no single-copy (it needs ptrace rights containers often lack), as
# many processes as asked on 2 cores, and root allowed (CI runs as root).
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Under ASan the MPI processes run without leak detection (Open MPI's own
# allocations); single-process runs keep it.
mpi_asan=()
grep -qa __asan_init "$BIN" && mpi_asan=(-x ASAN_OPTIONS=detect_leaks=0)
mpi() { # mpi NP ARGS...: the CLI on NP processes
    local np=$1
    shift
    timeout 300 mpirun -np "$np" "${mpi_asan[@]}" "$BIN" "$@"
}

# ranks_of PID: the factorlens processes below PID
ranks_of() {
    local c
    for c in $(pgrep -P "$1" || true); do
        if [ "$(readlink -f "/proc/$c/exe")" = "$(readlink -f "$BIN")" ]; then echo "$c"; else ranks_of "$c"; fi
    done
}

# kill_and_resume NP EPOCHS WHAT (NP 0: one process, no MPI; WHAT names the
# solver in messages)
kill_and_resume() {
    local np=$1 epochs=$2 what=$3 ck="ck$1" pid victim at
    rm -rf "$ck"
    if [ "$np" = 0 ]; then
        "$BIN" "${LONG[@]}" --checkpoint "$ck" --out "killed$np.flm" --quiet >/dev/null 2>&1 &
        pid=$!
        victim=$pid
    else
        mpi "$np" "${LONG[@]}" --distributed --checkpoint "$ck" --out "killed$np.flm" --quiet >/dev/null 2>&1 &
        pid=$!
    fi
    for _ in $(seq 1 3000); do
        if [ -f "$ck/manifest.txt" ] && [ "$(sed -n 's/^epoch //p' "$ck/manifest.txt")" -ge 3 ]; then break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.01
    done
    if [ "$np" != 0 ]; then
        # One of the ranks: the last factorlens process below this job's
        # subshell (which runs timeout, which runs mpirun, which runs them).
        victim=$(ranks_of "$pid" | tail -n 1)
    fi
    [ -n "$victim" ] && kill -0 "$victim" 2>/dev/null || fail "the run ended before it could be killed"
    kill -KILL "$victim"
    wait "$pid" 2>/dev/null && fail "the killed run reported success"
    [ -z "$(ranks_of $$)" ] || fail "processes of the killed run are still running"
    [ ! -e "killed$np.flm" ] || fail "a killed run wrote a model"
    at=$(sed -n 's/^epoch //p' "$ck/manifest.txt")
    [ "$at" -lt "$epochs" ] || fail "the checkpoint is of the last epoch: nothing was resumed"
    if [ "$np" = 0 ]; then
        "$BIN" "${LONG[@]}" --checkpoint "$ck" --resume --out resumed.flm --quiet >/dev/null
        "$BIN" "${LONG[@]}" --checkpoint "$ck.full" --out full.flm --quiet >/dev/null
    else
        mpi "$np" "${LONG[@]}" --distributed --checkpoint "$ck" --resume --out resumed.flm --quiet >/dev/null
        mpi "$np" "${LONG[@]}" --distributed --checkpoint "$ck.full" --out full.flm --quiet >/dev/null
    fi
    cmp -s resumed.flm full.flm || fail "$np: the resumed $what model differs from the uninterrupted one"
    echo "ok: $what killed at epoch $at of $epochs ($([ "$np" = 0 ] && echo "one process, no MPI" || echo "$np processes")), resumed: the same model file"
    rm -f resumed.flm full.flm
}
