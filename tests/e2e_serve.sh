#!/usr/bin/env bash
# e2e_serve.sh — `factorlens serve` end to end on MovieLens 100K: starts the
# server on a free loopback port, runs tests/serve/check_api.py against it
# (every endpoint, every error class, reload under load by POST and SIGHUP,
# a refused corrupt reload), then stops it by its pid.
# Usage: bash tests/e2e_serve.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_serve.sh /path/to/factorlens}
HERE=$(cd "$(dirname "$0")" && pwd)
export FACTORLENS_DATA=${FACTORLENS_DATA:-$HERE/../../shared/data}
D=$FACTORLENS_DATA/ml-100k
T=$(mktemp -d)
# shellcheck source=serve/server_lib.sh
. "$HERE/serve/server_lib.sh"
trap 'stop_server; rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$T/server.log" ] && tail -20 "$T/server.log" >&2; exit 1; }
for f in u1.base u.item; do
    [ -r "$D/$f" ] || fail "missing $D/$f: set FACTORLENS_DATA to the folder holding ml-100k/"
done

# Two models of the same data that differ (seeds), for reloads to tell apart.
"$BIN" train --ratings "$D/u1.base" --factors 16 --epochs 8 --seed 1 --threads 2 --quiet \
    --out "$T/a.flm" >/dev/null || fail "training model a"
"$BIN" train --ratings "$D/u1.base" --factors 16 --epochs 8 --seed 2 --threads 2 --quiet \
    --out "$T/b.flm" >/dev/null || fail "training model b"
cp "$T/a.flm" "$T/model.flm"

start_server "$T/model.flm" --items "$D/u.item" --threads 2 --web "$HERE/../web" ||
    fail "starting the server"
port=$PORT
echo "ok: server pid $SERVER_PID on port $port"

python3 "$HERE/serve/check_api.py" --port "$port" --pid "$SERVER_PID" --dir "$T" \
    --log "$T/server.log" --ratings "$D/u1.base" || fail "API checks"

# A clean stop: SIGTERM, then exit code 0 within a few seconds.
kill -TERM "$SERVER_PID"
code=0
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER_PID" 2>/dev/null && fail "the server did not stop on SIGTERM"
wait "$SERVER_PID" || code=$?
SERVER_PID=
[ "$code" = 0 ] || fail "the server exited with $code on SIGTERM"
grep -q "stopping on signal" "$T/server.log" || fail "no stop line in the log"
echo "ok: stopped cleanly by SIGTERM"

# model_checks NAME: runs stdin's Python against the server on $PORT, with
# call(method, path[, body]) -> (status, JSON) defined for it.
model_checks() {
    { printf '%s\n' 'import http.client, json, sys' \
        'def call(method, path, body=None):' \
        '    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)' \
        '    c.request(method, path, body=body)' \
        '    r = c.getresponse()' \
        '    return r.status, json.loads(r.read())'
      cat; } >"$T/checks.py"
    python3 "$T/checks.py" "$PORT" || fail "$1 model checks"
}

# An nn model serves predictions and lists, and refuses fold-in with a 400
# saying why (an nn user has no closed-form fit).
"$BIN" train --ratings "$D/u1.base" --model nn --factors 8 --epochs 1 --threads 2 --quiet \
    --out "$T/nn.flm" >/dev/null || fail "training the nn"
start_server "$T/nn.flm" --threads 1 || fail "starting the nn server"
model_checks nn <<'PY'
st, j = call("GET", "/v1/recommend?user=196&n=3&exclude_seen=0")
assert st == 200 and len(j["items"]) == 3, (st, j)
st, j = call("POST", "/v1/foldin", b'{"ratings":[{"item":"50","rating":5}]}')
assert st == 400 and "fold-in" in j["error"], (st, j)
PY
stop_server
echo "ok: an nn model serves lists and refuses fold-in (400)"

# An implicit model (ials) scores preferences: predict says so (rating null,
# score a number), and it has no item bias to show (null, not 0).
"$BIN" train --ratings "$D/u1.base" --model ials --factors 8 --epochs 1 --threads 2 --quiet \
    --out "$T/ials.flm" >/dev/null || fail "training the ials model"
start_server "$T/ials.flm" --threads 1 || fail "starting the ials server"
model_checks ials <<'PY'
st, j = call("GET", "/v1/predict?user=196&item=242")
assert st == 200 and j["rating"] is None and isinstance(j["score"], float), (st, j)
st, j = call("GET", "/v1/items/50")
assert st == 200 and j["bias"] is None and j["count"] > 0, (st, j)
st, j = call("GET", "/v1/recommend?user=196&n=3")
assert st == 200 and len(j["items"]) == 3, (st, j)
PY
stop_server
echo "ok: an ials model's predict gives a score, not a rating, and no bias"

# Start-up failures: a corrupt model is exit code 5, a bad --bind 2, no model 2.
head -c 1000 "$T/a.flm" >"$T/cut.flm"
code=0; "$BIN" serve "$T/cut.flm" --port 0 2>"$T/err" || code=$?
[ "$code" = 5 ] || fail "serve on a truncated model: exit $code, expected 5"
code=0; "$BIN" serve "$T/a.flm" --bind nowhere --port 0 2>"$T/err" || code=$?
[ "$code" = 2 ] || fail "serve --bind nowhere: exit $code, expected 2"
code=0; "$BIN" serve --port 0 2>"$T/err" || code=$?
[ "$code" = 2 ] || fail "serve without a model: exit $code, expected 2"
"$BIN" serve --help | grep -q -- "--web DIR" || fail "serve --help does not describe --web"
echo "ok: start-up errors"
echo "PASS e2e_serve"
