#!/usr/bin/env bash
# e2e_report.sh — `factorlens report` on MovieLens 100K: the page parses
# (Python's html.parser), holds its SVG figures, real titles and the
# spreadsheet view, references nothing outside itself, works for a model
# file written before the history existed, and refuses bad arguments.
# --format png writes one valid PNG (every chunk's CRC, the image data
# inflating to its IHDR size, tall enough for every figure and table),
# atomically (renamed over the destination), and refuses a name not ending
# in .png or a path it cannot write. The PNG is kept as a test artifact
# (artifacts/report-format-png.png beside where ctest runs the test), and
# with chromium installed a headless screenshot of the page too
# (artifacts/report.png).
# Usage: bash tests/e2e_report.sh /path/to/factorlens   (FACTORLENS_DATA: the data root)
set -euo pipefail

BIN=${1:?usage: e2e_report.sh /path/to/factorlens}
HERE=$(cd "$(dirname "$0")" && pwd)
export FACTORLENS_DATA=${FACTORLENS_DATA:-$HERE/../../shared/data}
D=$FACTORLENS_DATA/ml-100k
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Under ASan: fontconfig's once-per-process allocations are not leaks (see the file).
export LSAN_OPTIONS="suppressions=$HERE/lsan_fontconfig.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
for f in u1.base u1.test u.item; do
    [ -r "$D/$f" ] || fail "missing $D/$f: set FACTORLENS_DATA to the folder holding ml-100k/"
done

"$BIN" train --ratings "$D/u1.base" --test "$D/u1.test" --threads 2 --quiet --out "$T/m.flm" >/dev/null
"$BIN" report "$T/m.flm" --items "$D/u.item" --ratings "$D/u1.base" --out "$T/r.html" >"$T/out"
grep -q "wrote" "$T/out" || fail "report did not say where it wrote"

# check PAGE SVGS SHEET_ROWS: structure, figures, titles, no external reference.
check() {
    python3 - "$@" <<'PY'
import sys
from html.parser import HTMLParser

path, want_svgs, want_rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
page = open(path, encoding="utf-8").read()

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.open, self.svgs, self.text, self.bad = [], 0, [], []
        self.sheet_rows, self.in_sheet, self.dark_dots, self.polylines = 0, False, 0, 0
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe", "object", "embed", "image", "use"):
            self.bad.append(tag)
        for k, v in attrs:
            if k in ("src", "href", "xlink:href") or k.startswith("on"):
                self.bad.append(f"{tag} {k}={v}")
        if tag == "svg":
            self.svgs += 1
        if tag == "table" and a.get("class") == "sheet":
            self.in_sheet = True
        if tag == "tr" and self.in_sheet:
            self.sheet_rows += 1
        if tag == "circle" and a.get("r") == "3":
            self.dark_dots += 1
        if tag == "polyline":
            self.polylines += 1
        if tag not in ("meta", "rect", "circle", "line", "polyline", "br"):
            self.open.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.open and self.open[-1] == tag:
            self.open.pop()
    def handle_endtag(self, tag):
        if tag == "table":
            self.in_sheet = False
        if tag in ("rect", "circle", "line", "polyline"):
            return
        if not self.open or self.open[-1] != tag:
            raise SystemExit(f"FAIL: </{tag}> closes <{self.open[-1] if self.open else None}>")
        self.open.pop()
    def handle_data(self, data):
        self.text.append(data)

p = Page()
p.feed(page)
p.close()
text = "".join(p.text)
checks = [
    (not p.open, f"unclosed tags {p.open}"),
    (p.svgs == want_svgs, f"{p.svgs} SVG figures, expected {want_svgs}"),
    (not p.bad, f"external references or scripts: {p.bad[:5]}"),
    ("http" not in page and "url(" not in page and "@import" not in page, "a URL in the page"),
    ("Star Wars (1977)" in text, "no Star Wars title"),
    ("Schindler's List (1993)" in text, "no Schindler's List among the highest biases"),
    ("Wrong Trousers, The (1993)" in text, "no Wrong Trousers among the highest biases"),
    (p.sheet_rows == want_rows, f"spreadsheet has {p.sheet_rows} rows, expected {want_rows}"),
    (p.dark_dots == 30, f"{p.dark_dots} labelled items on the map, expected 30"),
    (p.polylines >= (3 if want_svgs == 3 else 0), f"{p.polylines} curves"),
]
for ok, why in checks:
    if not ok:
        raise SystemExit(f"FAIL: {path}: {why}")
PY
}
check "$T/r.html" 3 16 || fail "the page with --ratings"
grep -q "Learning curves" "$T/r.html" && grep -q "test RMSE" "$T/r.html" || fail "no learning curves"
pass "report: parses, 3 SVG figures, real titles, 15x15 spreadsheet, nothing external"

"$BIN" report "$T/m.flm" --items "$D/u.item" --out "$T/plain.html" >/dev/null
check "$T/plain.html" 3 0 || fail "the page without --ratings"
grep -q -- "--ratings FILE" "$T/plain.html" || fail "no note asking for --ratings"
pass "report without --ratings says what it leaves out"

# A model file from before the history: the same file without the history_*
# keys, its checksum recomputed as docs/model-format.md describes.
python3 - "$T/m.flm" "$T/old.flm" <<'PY'
import hashlib, json, struct, sys
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
meta = header["__metadata__"]
assert any(k.startswith("history_") for k in meta)
for k in [k for k in meta if k.startswith("history_")]:
    del meta[k]
meta["checksum"] = "0" * 64
text = json.dumps(header, separators=(",", ":")).encode()
pad = (8 + len(text) + 63) // 64 * 64 - 8 - len(text)
text += b" " * pad
out = bytearray(struct.pack("<Q", len(text)) + text + raw[8 + n:])
at = out.index(b'"checksum":"' + b"0" * 64) + len('"checksum":"')
out[at:at + 64] = hashlib.sha256(bytes(out)).hexdigest().encode()
open(sys.argv[2], "wb").write(out)
PY
"$BIN" report "$T/old.flm" --items "$D/u.item" --ratings "$D/u1.base" --out "$T/old.html" >/dev/null
check "$T/old.html" 2 16 || fail "the page of a model without history"
grep -q "before factorlens kept" "$T/old.html" || fail "no note on the missing history"
pass "report of a model file without history: learning curves replaced by a note"

code=0; "$BIN" report "$T/m.flm" --out "$T/x.html" 2>"$T/err" || code=$?
[ "$code" = 2 ] || fail "no --items: exit $code"
code=0; "$BIN" report "$D/u1.base" --items "$D/u.item" --out "$T/x.html" 2>"$T/err" || code=$?
[ "$code" = 5 ] || fail "a ratings file as the model: exit $code"
[ ! -e "$T/x.html" ] || fail "a failed report left a file behind"
pass "report refuses a missing --items and a non-model (exit codes 2, 2, 5)"

# --format png. The image's parts, in SVG units (1.5 pixels each): the
# learning curves and the histogram (380 each), the map (600), two bias
# tables of 16 rows (18 each) and, with --ratings, the spreadsheet (175 of
# column titles and 15 rows of 20). The image must be at least that tall.
# png_check FILE MIN_HEIGHT: prints the height.
png_check() {
    python3 - "$@" <<'PY'
import struct, sys, zlib
path, min_h = sys.argv[1], int(sys.argv[2])
raw = open(path, "rb").read()
if raw[:8] != b"\x89PNG\r\n\x1a\n":
    raise SystemExit(f"FAIL: {path}: no PNG signature")
at, chunks, idat = 8, [], b""
while at < len(raw):
    (n,) = struct.unpack(">I", raw[at:at + 4])
    kind, body = raw[at + 4:at + 8], raw[at + 8:at + 8 + n]
    (crc,) = struct.unpack(">I", raw[at + 8 + n:at + 12 + n])
    if zlib.crc32(kind + body) != crc:
        raise SystemExit(f"FAIL: {path}: bad CRC in {kind}")
    chunks.append(kind)
    if kind == b"IDAT":
        idat += body
    at += 12 + n
if chunks[0] != b"IHDR" or chunks[-1] != b"IEND":
    raise SystemExit(f"FAIL: {path}: chunks {chunks[:3]}...{chunks[-2:]}")
w, h, depth, colour = struct.unpack(">IIBB", raw[16:26])
if (w, depth, colour) != (1200, 8, 2):
    raise SystemExit(f"FAIL: {path}: {w} wide, depth {depth}, colour type {colour}; "
                     "expected 1200 wide, 8-bit RGB")
if h < min_h:
    raise SystemExit(f"FAIL: {path}: {h} pixels tall, expected at least {min_h}")
pixels = zlib.decompress(idat)
if len(pixels) != h * (1 + 3 * w):
    raise SystemExit(f"FAIL: {path}: {len(pixels)} bytes of image data for {w}x{h}")
# Not a blank page: a plain white image compresses to almost nothing.
if len(idat) < 200000:
    raise SystemExit(f"FAIL: {path}: only {len(idat)} bytes of image data, nearly blank?")
print(h)
PY
}
parts=$(( 380 + 380 + 600 + 2 * 16 * 18 ))
printf 'old' >"$T/r.png"
inode=$(stat -c %i "$T/r.png")
"$BIN" report "$T/m.flm" --items "$D/u.item" --ratings "$D/u1.base" --out "$T/r.png" \
    --format png >"$T/out"
grep -q "wrote *$T/r.png" "$T/out" || fail "report --format png did not say where it wrote"
h_full=$(png_check "$T/r.png" $(( (parts + 175 + 15 * 20) * 3 / 2 ))) || fail "the PNG with --ratings"
# Renamed over the old file (a new inode), not written into it; no temp file left.
[ "$(stat -c %i "$T/r.png")" != "$inode" ] || fail "the PNG was written in place, not renamed"
[ -z "$(find "$T" -name '*.tmp*')" ] || fail "a temp file was left behind"
"$BIN" report "$T/m.flm" --items "$D/u.item" --out "$T/plain.png" --format png >/dev/null
h_plain=$(png_check "$T/plain.png" $(( parts * 3 / 2 ))) || fail "the PNG without --ratings"
[ "$h_plain" -lt "$h_full" ] || fail "the PNG without --ratings ($h_plain) is not shorter ($h_full)"
"$BIN" report "$T/old.flm" --items "$D/u.item" --out "$T/old.png" --format png >/dev/null
png_check "$T/old.png" $(( (parts - 380) * 3 / 2 )) >/dev/null || fail "the PNG of a model without history"
mkdir -p artifacts && cp "$T/r.png" artifacts/report-format-png.png
pass "report --format png: valid 1200x$h_full PNG (x$h_plain without --ratings), renamed into place"

code=0; "$BIN" report "$T/m.flm" --items "$D/u.item" --out "$T/x.html" --format png 2>"$T/err" || code=$?
[ "$code" = 2 ] && grep -q "ending in .png" "$T/err" || fail "--format png to x.html: exit $code, $(cat "$T/err")"
[ ! -e "$T/x.html" ] || fail "--format png to x.html wrote it"
code=0; "$BIN" report "$T/m.flm" --items "$D/u.item" --out "$T/no/such/dir/x.png" --format png 2>"$T/err" || code=$?
[ "$code" = 1 ] && grep -q "cannot write" "$T/err" || fail "an unwritable --out: exit $code, $(cat "$T/err")"
[ -z "$(find "$T" -name '*.tmp*')" ] || fail "a temp file was left behind"
"$BIN" report --help >"$T/help"
grep -q -- "--format html|png" "$T/help" || fail "report --help does not offer png"
! grep -q "not offered" "$T/help" || fail "report --help still says png is not offered"
pass "report --format png refuses a non-.png --out (2) and an unwritable path (1); --help offers it"

if command -v chromium >/dev/null 2>&1; then
    mkdir -p artifacts
    profile=$(mktemp -d)
    timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --screenshot="$PWD/artifacts/report.png" \
        --window-size=1200,2400 "file://$T/r.html" >/dev/null 2>&1 || true
    rm -rf "$profile"
    [ -s artifacts/report.png ] || fail "chromium wrote no screenshot"
    [ "$(head -c 8 artifacts/report.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        fail "the screenshot is not a PNG"
    [ "$(stat -c %s artifacts/report.png)" -gt 100000 ] || fail "the screenshot is nearly empty"
    pass "headless chromium screenshot kept in $PWD/artifacts/report.png"
else
    echo "note: chromium is not installed; no screenshot taken"
fi
# An implicit model (ials) learns no biases: the report says so instead of
# listing biases of zero.
"$BIN" train --ratings "$D/u1.base" --model ials --factors 8 --epochs 1 --threads 2 --quiet \
    --out "$T/ials.flm" >/dev/null || fail "training the ials model"
"$BIN" report "$T/ials.flm" --items "$D/u.item" --out "$T/ials.html" >/dev/null 2>&1 ||
    fail "report on an ials model"
[ "$(grep -c 'ials models have no biases' "$T/ials.html")" = 2 ] ||
    fail "the ials report does not say, for items and users, that the model has no biases"
pass "an ials model's report says it has no biases"
# An fm model with side features: both formats show each feature's learned
# weight, grouped (gender, occupation, ...; genre, decade), as bar charts.
"$BIN" train --ratings "$D/u1.base" --model fm --user-features "$D/u.user" \
    --item-features "$D/u.item" --factors 4 --epochs 12 --burn-in 4 --threads 2 --quiet \
    --out "$T/fm.flm" >/dev/null || fail "training the fm model"
"$BIN" report "$T/fm.flm" --items "$D/u.item" --out "$T/fm.html" >/dev/null || fail "report on an fm model"
check "$T/fm.html" 5 0 || fail "the fm page: curves, map, histogram and two feature charts"
for want in "User features: what each adds" "Item features: what each adds" ">occupation=writer<" \
    ">gender=F<" ">genre=Comedy<" ">decade=1990s<"; do
    grep -q -- "$want" "$T/fm.html" || fail "the fm page lacks '$want'"
done
# One bar per feature: u.user's 41 (7 age buckets, 2 genders, 21 occupations,
# 11 zip digits as this split has them) and u.item's genres and decades.
bars=$(grep -o '<rect x="[0-9.]*" y="[0-9.]*" width="[0-9.]*" height="12.0" fill="#[0-9a-f]*"><title>[-+]' "$T/fm.html" | wc -l)
[ "$bars" -ge 60 ] || fail "the fm page has $bars feature bars, expected one per feature (60 or more)"
"$BIN" report "$T/fm.flm" --items "$D/u.item" --out "$T/fm.png" --format png >/dev/null ||
    fail "report --format png on an fm model"
h_fm=$(png_check "$T/fm.png" $(( (parts + 2 * 30 * 16) * 3 / 2 ))) || fail "the fm PNG"
pass "an fm model's report shows its side features' weights ($bars bars; PNG 1200x$h_fm)"
echo "all report checks passed"
