# server_lib.sh — sourced by the server's end-to-end tests: start
# `factorlens serve` on a free loopback port and stop it by its pid on exit.
# Needs BIN and T (a temp folder) set; sets SERVER_PID and PORT.

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}

# start_server ARGS...: serve with --port 0 and wait (up to 20 s) for the
# log line naming the port. The log is $T/server.log.
start_server() {
    "$BIN" serve "$@" --port 0 2>"$T/server.log" &
    SERVER_PID=$!
    PORT=
    for _ in $(seq 1 200); do
        PORT=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$T/server.log" | head -n 1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$T/server.log" >&2; echo "FAIL: the server exited at start" >&2; return 1; }
        sleep 0.1
    done
    echo "FAIL: the server did not say which port it listens on" >&2
    return 1
}
