#!/usr/bin/env python3
"""check_api.py — drives a running `factorlens serve` (tests/e2e_serve.sh
starts it): every endpoint, every error class, reloads under load, a refused
corrupt reload. Standard library only. Exits 1 on the first failure."""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--dir", required=True)  # holds a.flm, b.flm and the served model.flm
ap.add_argument("--log", required=True)
ap.add_argument("--ratings", required=True)  # the model's training ratings (u1.base)
args = ap.parse_args()
HOST = "127.0.0.1"


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def request(method, path, body=None, headers=None, chunked=False):
    c = http.client.HTTPConnection(HOST, args.port, timeout=30)
    try:
        c.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        r = c.getresponse()
        data = r.read()
        return r.status, r.getheader("Content-Type") or "", data
    finally:
        c.close()


def call(method, path, want, body=None, headers=None, chunked=False):
    """The JSON reply of a request that must answer with status want."""
    status, ctype, data = request(method, path, body, headers, chunked)
    if status != want:
        fail(f"{method} {path}: status {status}, expected {want}: {data[:300]!r}")
    if not ctype.startswith("application/json"):
        fail(f"{method} {path}: Content-Type {ctype!r}, expected JSON")
    try:
        j = json.loads(data.decode("utf-8"))
    except ValueError:
        fail(f"{method} {path}: not UTF-8 JSON: {data[:300]!r}")
    if want != 200 and (set(j) != {"error"} or not isinstance(j["error"], str) or not j["error"]):
        fail(f"{method} {path}: an error reply must be {{\"error\": \"...\"}}, got {j}")
    return j


def get(path, want=200):
    return call("GET", path, want)


def check(cond, msg):
    if not cond:
        fail(msg)


def alive():
    try:
        os.kill(args.pid, 0)
    except OSError:
        fail("the server process is gone")


# ---------------------------------------------------------------- endpoints
j = get("/healthz")
check(j["status"] == "ok" and len(j["checksum"]) == 64 and j["items"] > 1000, f"healthz: {j}")
first_sum = j["checksum"]

j = get("/v1/predict?user=196&item=242")
check(j["user"] == "196" and j["item"] == "242", f"predict echoes its ids: {j}")
check(1.0 <= j["rating"] <= 5.0, f"predict: rating {j['rating']} outside the training range")

j = get("/v1/recommend?user=196&n=10")
check(j["user"] == "196" and len(j["items"]) == 10, f"recommend: {j}")
scores = [e["score"] for e in j["items"]]
check(scores == sorted(scores, reverse=True), f"recommend: scores not best first: {scores}")
check(all(set(e) == {"item", "score", "title"} and e["title"] for e in j["items"]),
      f"recommend: entries need item, score and title: {j['items'][0]}")
default_items = [e["item"] for e in j["items"]]
check(get("/v1/recommend?user=196")["items"] == j["items"], "recommend: n defaults to 10")
j = get("/v1/recommend?user=196&n=3")
check([e["item"] for e in j["items"]] == default_items[:3], "recommend n=3 is the top 3 of n=10")

seen196 = set()
for line in open(args.ratings):
    u, i = line.split("\t")[:2]
    if u == "196":
        seen196.add(i)
check(not seen196 & set(default_items), "recommend leaves out what the user rated")
j = get("/v1/recommend?user=196&n=1000&exclude_seen=0")
with_seen = [e["item"] for e in j["items"]]
check(seen196 & set(with_seen), "recommend with exclude_seen=0 lists rated items too")
check([i for i in with_seen if i not in seen196][:10] == default_items,
      "exclude_seen=0 less the rated items is the exclude_seen=1 list")
check(get("/v1/recommend?user=196&exclude_seen=1")["items"] == get("/v1/recommend?user=196")["items"],
      "exclude_seen defaults to 1")

j = get("/v1/similar?item=50&n=5")
check(j["item"] == "50" and len(j["items"]) == 5, f"similar: {j}")
titles = [e["title"] for e in j["items"]]
check(any("Empire Strikes Back" in t or "Return of the Jedi" in t for t in titles),
      f"similar to Star Wars: {titles}")
check(all(-1.0 <= e["score"] <= 1.0 for e in j["items"]), "similar: scores are cosines")

j = get("/v1/items?q=STAR%20wars&n=5")
check(j["q"] == "STAR wars", f"items echoes q: {j}")
check(j["items"] and j["items"][0]["item"] == "50" and j["items"][0]["title"] == "Star Wars (1977)",
      f"search 'STAR wars' (case-insensitive) finds Star Wars first: {j['items'][:2]}")
check(all("star wars" in e["title"].lower() for e in j["items"]), "search: every title matches")
counts = [e["count"] for e in get("/v1/items?n=20")["items"]]
check(len(counts) == 20 and counts == sorted(counts, reverse=True),
      f"items without q: the most rated first: {counts}")
check(get("/v1/items?q=zzzzqqqq")["items"] == [], "a search matching nothing is an empty list")
j = get("/v1/items?q=MIS%C3%89RABLES")  # "MISÉRABLES": Latin-1 letters fold too
check([e["item"] for e in j["items"]] == ["543"], f"search MISÉRABLES: {j}")

j = get("/v1/items/50")
check(j["item"] == "50" and j["title"] == "Star Wars (1977)", f"item 50: {j}")
check(j["count"] > 300 and 4.0 < j["mean"] <= 5.0 and j["bias"] > 0.3,
      f"item 50: count, mean and bias of a well-liked, much-rated film: {j}")
print("ok: predict, recommend, similar, items, items/{id}, healthz")

# ---------------------------------------------------------------- fold-in
def foldin(body, want=200):
    return call("POST", "/v1/foldin", want, body=json.dumps(body).encode() if not isinstance(body, bytes) else body,
                headers={"Content-Type": "application/json"})


liked = [{"item": "50", "rating": 5}, {"item": "172", "rating": 5}, {"item": "181", "rating": 4.5}]
j = foldin({"ratings": liked})
check(set(j) == {"bias", "n_used", "items"} and j["n_used"] == 3, f"foldin: {j}")
check(isinstance(j["bias"], float) and -3 < j["bias"] < 3, f"foldin: a fitted bias: {j['bias']}")
check(len(j["items"]) == 10 and not {"50", "172", "181"} & {e["item"] for e in j["items"]},
      "foldin: 10 items (the default), none of the rated ones")
scores = [e["score"] for e in j["items"]]
check(scores == sorted(scores, reverse=True) and all(e["title"] for e in j["items"]),
      "foldin: best first, with titles")
check(len(foldin({"ratings": liked, "n": 3})["items"]) == 3, "foldin: n")
j = foldin({"ratings": []})
check(j["n_used"] == 0 and j["bias"] == 0 and len(j["items"]) == 10,
      "foldin without ratings: the items' biases alone")
disliked = foldin({"ratings": [{"item": "50", "rating": 1}, {"item": "172", "rating": 1}]})
check(disliked["bias"] < foldin({"ratings": liked[:2]})["bias"], "a harsher rater gets a lower bias")
bad_bodies = [
    (b"", 400), (b"{", 400), (b"[1,2]", 400), (b"\xff\xfe", 400), (b'{"ratings": 5}', 400),
    (b'{"n": 3}', 400), (b'{"ratings": [], "ratings": []}', 400),          # duplicate key
    ({"ratings": [], "x": 1}, 400),                                          # unknown key
    ({"ratings": [{"item": "50"}]}, 400),                                    # no rating
    ({"ratings": [{"item": 50, "rating": 5}]}, 400),                         # id not a string
    ({"ratings": [{"item": "50", "rating": "5"}]}, 400),
    ({"ratings": [{"item": "50", "rating": 5, "x": 1}]}, 400),
    ({"ratings": [{"item": "50", "rating": 7}]}, 400),                       # off the scale
    ({"ratings": [{"item": "50", "rating": 0.5}]}, 400),
    ({"ratings": [{"item": "", "rating": 3}]}, 400),
    ({"ratings": [{"item": "50", "rating": 5}, {"item": "50", "rating": 4}]}, 400),
    ({"ratings": liked, "n": 0}, 400), ({"ratings": liked, "n": 1001}, 400),
    ({"ratings": liked, "n": 2.5}, 400),
    ({"ratings": [{"item": str(k), "rating": 3} for k in range(10001)]}, 400),  # too many
    ({"ratings": [{"item": "no such film", "rating": 3}]}, 404),
    (b'{"ratings": [{"item": "5\\u0000", "rating": 3}]}', 400),             # NUL in an id
    (b'{"ratings": [' * 5000 + b']' * 5000 + b'}', 400),                     # deep nesting
]
for body, want in bad_bodies:
    foldin(body, want)
call("POST", "/v1/foldin?x=1", 400, body=json.dumps({"ratings": liked}).encode())
print(f"ok: foldin, and {len(bad_bodies) + 1} bad bodies refused (400, 404)")

# ---------------------------------------------------------------- the page
for path, mime, needle in [("/", "text/html", b"<title>factorlens</title>"),
                           ("/index.html", "text/html", b"app.js"),
                           ("/app.js", "text/javascript", b"/v1/foldin"),
                           ("/style.css", "text/css", b"body")]:
    status, ctype, data = request("GET", path)
    check(status == 200 and ctype.startswith(mime) and needle in data,
          f"page file {path}: {status} {ctype}")
for path in ["/nothing.html", "/../CMakeLists.txt", "/%2e%2e/README.md", "/web/index.html",
             "/.hidden"]:
    status, _, _ = request("GET", path)
    check(status == 404, f"{path}: status {status}, expected 404")
print("ok: the page's files, and nothing else")

# ---------------------------------------------------------------- errors
bad = [
    ("/v1/predict?user=196", 400),                 # missing parameter
    ("/v1/predict?item=242", 400),
    ("/v1/predict?user=&item=242", 400),           # empty id
    ("/v1/predict?user=196&item=242&x=1", 400),    # unknown parameter
    ("/v1/predict?user=196&user=1&item=242", 400), # repeated parameter
    ("/v1/predict?user=196%00x&item=242", 400),    # NUL inside an id
    ("/v1/predict?user=%01&item=242", 400),        # control character
    ("/v1/predict?user=%FF%FE&item=242", 400),     # not UTF-8
    ("/v1/predict?user=" + "9" * 300 + "&item=242", 400),  # longer than an id can be
    ("/v1/predict?user=nobody&item=242", 404),     # unknown user
    ("/v1/predict?user=196&item=nothing", 404),    # unknown item
    ("/v1/recommend?user=196&n=0", 400),
    ("/v1/recommend?user=196&n=1001", 400),
    ("/v1/recommend?user=196&n=-1", 400),
    ("/v1/recommend?user=196&n=1e3", 400),
    ("/v1/recommend?user=196&n=+5", 400),
    ("/v1/recommend?user=196&n=99999999999999999999", 400),
    ("/v1/recommend?user=196&exclude_seen=2", 400),
    ("/v1/recommend?user=196&exclude_seen=", 400),
    ("/v1/recommend?user=nobody", 404),
    ("/v1/similar?item=50&n=abc", 400),
    ("/v1/similar?n=5", 400),
    ("/v1/similar?item=nothing", 404),
    ("/v1/items?q=" + "a" * 201, 400),             # search text too long
    ("/v1/items?q=%C3", 400),                      # cut UTF-8
    ("/v1/items?n=0", 400),
    ("/v1/items/nothing", 404),
    ("/v1/items/50?x=1", 400),
    ("/v1/items/%01", 400),
    ("/healthz?x=1", 400),
    ("/v1/nothing", 404),
    ("/v2/predict", 404),
    ("/v1/items/50/more", 404),
    ("/v1/predict?" + "&".join(f"k{i}=1" for i in range(40)), 400),  # too many parameters
]
for path, want in bad:
    get(path, want)
for method, path in [("POST", "/v1/predict"), ("DELETE", "/v1/recommend?user=196"),
                     ("PUT", "/v1/items/50"), ("GET", "/v1/foldin"), ("GET", "/v1/reload"),
                     ("POST", "/healthz"), ("POST", "/metrics")]:
    status, _, data = request(method, path)
    check(status == 405, f"{method} {path}: status {status}, expected 405")
    check(json.loads(data)["error"], f"{method} {path}: 405 without an error message")
big = b"x" * ((1 << 20) + 1)
# A declared length over 1 MiB is refused before the body is read (the
# client waits for "100 Continue", as curl does for large bodies).
s = socket.create_connection((HOST, args.port), timeout=10)
s.sendall(b"POST /v1/foldin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(big))
head = b""
while b"\r\n\r\n" not in head:
    chunk = s.recv(4096)
    check(chunk, "413: the server closed without a reply")
    head += chunk
s.close()
check(head.startswith(b"HTTP/1.1 413"), f"declared body over 1 MiB: {head[:60]!r}")
# Without a Content-Length (chunked), the cap holds as the bytes arrive.
call("POST", "/v1/foldin", 413, body=iter([big[:600000], big[600000:]]),
     headers={"Content-Type": "application/json"}, chunked=True)
call("POST", "/v1/reload", 400, body=b"{}")  # reload takes no body
print(f"ok: {len(bad) + 7 + 3} error replies (400, 404, 405, 413) with JSON bodies")

# Bytes that are not HTTP, and a connection dropped mid-body: the server lives on.
for junk in [b"\x00\xff" * 100 + b"\r\n\r\n", b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n",
             b"POST /v1/foldin HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"rat"]:
    s = socket.create_connection((HOST, args.port), timeout=10)
    try:
        s.sendall(junk)
        s.shutdown(socket.SHUT_WR)
        s.recv(4096)
    except OSError:
        pass
    s.close()
alive()
get("/healthz")
print("ok: malformed and cut requests leave the server serving")

# ---------------------------------------------------------------- metrics
status, ctype, data = request("GET", "/metrics")
text = data.decode()
check(status == 200 and ctype.startswith("text/plain"), f"metrics: {status} {ctype}")
for want in ['factorlens_requests_total{endpoint="predict",status="200"}',
             'factorlens_requests_total{endpoint="predict",status="404"}',
             'factorlens_requests_total{endpoint="predict",status="405"}',
             'factorlens_requests_total{endpoint="foldin",status="413"}',
             'factorlens_request_duration_seconds_bucket{endpoint="recommend",le="+Inf"}',
             'factorlens_request_duration_seconds_count{endpoint="recommend"}',
             f'factorlens_model_info{{checksum="{first_sum}"',
             "factorlens_model_loaded_timestamp_seconds ", "factorlens_model_load_duration_seconds "]:
    check(want in text, f"metrics: no line with {want}")
for line in text.splitlines():
    check(line.startswith("#") or line.startswith("factorlens_"), f"metrics: stray line {line!r}")
n_predict_200 = [l for l in text.splitlines()
                 if l.startswith('factorlens_requests_total{endpoint="predict",status="200"}')]
check(n_predict_200 and int(n_predict_200[0].split()[-1]) >= 1, "metrics: predict 200 count")
# The compact scan index (ml-100k's 1650 items are over its 1024-item
# threshold): its heap bytes in /metrics and in the start-up log.
index_bytes = [l for l in text.splitlines() if l.startswith("factorlens_scan_index_bytes ")]
check(index_bytes and int(index_bytes[0].split()[-1]) > 0, f"metrics: scan index bytes {index_bytes}")
with open(args.log) as f:
    check("scan index for top-n lists:" in f.read(), "log: no line on the scan index")
print("ok: /metrics")

# ---------------------------------------------------------------- reload under load
def checksum():
    return get("/healthz")["checksum"]


stop = threading.Event()
results = {"ok": 0, "failed": []}
lock = threading.Lock()


def client_loop():
    c = None
    while not stop.is_set():
        try:
            if c is None:
                c = http.client.HTTPConnection(HOST, args.port, timeout=30)
            c.request("GET", "/v1/recommend?user=196&n=10")
            r = c.getresponse()
            data = r.read()
            ok = r.status == 200 and len(json.loads(data)["items"]) == 10
            with lock:
                if ok:
                    results["ok"] += 1
                else:
                    results["failed"].append(f"{r.status} {data[:100]!r}")
        except Exception as e:  # any failed request is a test failure
            with lock:
                results["failed"].append(repr(e))
            c = None


def replace_model(src):
    """Puts src in place of the served file as a save would: a new file
    renamed over it, never the mapped one changed in place."""
    tmp = os.path.join(args.dir, "model.flm.new")
    shutil.copyfile(src, tmp)
    os.replace(tmp, os.path.join(args.dir, "model.flm"))


threads = [threading.Thread(target=client_loop) for _ in range(4)]
for t in threads:
    t.start()
time.sleep(0.5)
a_sum = checksum()
replace_model(os.path.join(args.dir, "b.flm"))
j = call("POST", "/v1/reload", 200)
check(j["status"] == "reloaded" and j["previous"] == a_sum and j["checksum"] != a_sum,
      f"reload by POST: {j}")
b_sum = j["checksum"]
check(checksum() == b_sum, "after POST /v1/reload the new model serves")
time.sleep(0.3)

replace_model(os.path.join(args.dir, "a.flm"))
os.kill(args.pid, signal.SIGHUP)
deadline = time.time() + 20
while checksum() != a_sum:
    check(time.time() < deadline, "SIGHUP did not swap the model in within 20 s")
    time.sleep(0.05)
time.sleep(0.3)

# A truncated file and a file with one byte changed: refused, the old model serves on.
raw = open(os.path.join(args.dir, "b.flm"), "rb").read()
cut = os.path.join(args.dir, "cut.flm")
open(cut, "wb").write(raw[: len(raw) // 2])
replace_model(cut)
j = call("POST", "/v1/reload", 500)
check("truncated" in j["error"] or "model" in j["error"], f"refused reload message: {j}")
check(checksum() == a_sum, "after a refused reload the old model still serves")
flip = bytearray(raw)
flip[len(flip) - 100] ^= 0x01
open(cut, "wb").write(bytes(flip))
replace_model(cut)
j = call("POST", "/v1/reload", 500)
check("checksum" in j["error"], f"a changed byte is refused by its checksum: {j}")
os.kill(args.pid, signal.SIGHUP)  # by signal too: refused, logged, nothing changes
time.sleep(1.0)
check(checksum() == a_sum, "after a refused SIGHUP reload the old model still serves")
time.sleep(0.3)
stop.set()
for t in threads:
    t.join()
alive()
if results["failed"]:
    fail(f"{len(results['failed'])} requests failed during reloads, first: {results['failed'][:3]}")
check(results["ok"] > 50, f"only {results['ok']} requests ran during the reloads")
log = open(args.log, encoding="utf-8", errors="replace").read()
check(log.count("refused") >= 3, "each refused reload is logged")
check("reload (SIGHUP): now serving" in log, "the SIGHUP reload is logged")
m = request("GET", "/metrics")[2].decode()
check('factorlens_reloads_total{result="ok"} 2' in m and
      'factorlens_reloads_total{result="refused"} 3' in m, "metrics count reloads by result")
print(f"ok: {results['ok']} requests across 2 reloads and 3 refused ones, 0 failed")
