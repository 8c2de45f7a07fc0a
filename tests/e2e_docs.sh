#!/usr/bin/env bash
# e2e_docs.sh — the documents agree with the code: every default README.md
# states for `train` (in brackets) is the one `train --help` prints (which is
# generated from fl_params_default), every model option of the help is in
# README, and the "gives" lines of docs/defaults.md match the help per solver.
# Usage: bash tests/e2e_docs.sh /path/to/factorlens
set -euo pipefail

BIN=${1:?usage: e2e_docs.sh /path/to/factorlens}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

"$BIN" train --help >"$T/help"
python3 - "$T/help" "$REPO/README.md" "$REPO/docs/defaults.md" <<'EOF'
import re, sys

help_text, readme, defaults_md = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
ws = lambda s: re.sub(r"\s+", " ", s).strip()
problems = []

# --help: option -> its whole description (continuation lines joined), by section.
options, section, current = {}, None, None
for line in help_text.splitlines():
    if re.match(r"^\S.*:$", line):
        section, current = line[:-1], None
    elif m := re.match(r"^  (--[a-z][a-z-]*)(.*)$", line):
        current = m.group(1)
        options[current] = {"section": section, "text": m.group(2)}
    elif current and line.startswith(" " * 23):
        options[current]["text"] += " " + line.strip()
    else:
        current = None

def default_of(text):
    """The text inside '(default ...)', parentheses balanced."""
    at = text.find("(default ")
    if at < 0:
        return None
    depth, k = 0, at
    while k < len(text):
        depth += {"(": 1, ")": -1}.get(text[k], 0)
        if depth == 0:
            return ws(text[at + len("(default "):k])
        k += 1
    return None

help_default = {o: default_of(v["text"]) for o, v in options.items()}
model_options = [o for o, v in options.items() if v["section"] == "Model"]
if len(model_options) < 15:
    problems.append("train --help: found only %d model options: %s" % (len(model_options), model_options))

# README: `--opt ARG` [default] in the paragraph on train's options.
para = re.search(r"`train` options \(defaults in brackets\):(.*?)\n\n", readme, re.S)
if not para:
    sys.exit("README.md: no paragraph starting \"`train` options (defaults in brackets):\"")
stated = {}
for m in re.finditer(r"`(--[a-z][a-z-]*)[^`]*`([^`\[]*)(\[([^\]]*)\])?", para.group(1)):
    stated[m.group(1)] = ws(m.group(4)) if m.group(3) else None
for opt in model_options:
    if opt not in stated:
        problems.append("README.md does not list train's %s" % opt)
for opt, value in stated.items():
    if opt not in options:
        problems.append("README.md lists %s, which train --help does not know" % opt)
    elif help_default[opt] is not None and value is None:
        problems.append("README.md gives no [default] for %s (train --help: %s)" % (opt, help_default[opt]))
    elif value != help_default[opt]:
        problems.append("README.md says %s defaults to [%s], train --help says (default %s)"
                        % (opt, value, help_default[opt]))

# Per-solver values: "20 sgd, 10 adam, 10 als, 5 nn", "0.05 sgd, ...; als uses none" or one value.
SOLVERS = ["sgd", "adam", "als", "nn"]
def per_solver(text):
    if text is None:
        return None
    out = {}
    for part in re.split(r"[,;] ", text):
        if m := re.fullmatch(r"(\S+) (sgd|adam|als|nn)", part):
            out[m.group(2)] = m.group(1)
        elif m := re.fullmatch(r"(sgd|adam|als|nn) uses none", part):
            out[m.group(1)] = None
        elif len(out) == 0 and " " not in part:
            return {s: part for s in SOLVERS}
        else:
            return None  # not a per-solver value (e.g. y-range's sentence)
    return out

def same(a, b):
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return a == b

def check_flags(where, solver, flags):
    for opt, value in flags:
        want = per_solver(help_default.get(opt))
        if want is None:
            want_v = help_default.get(opt)
        else:
            want_v = want.get(solver)
        if not same(value, want_v):
            problems.append("docs/defaults.md (%s) gives %s %s, train --help says %s for %s"
                            % (where, opt, value, want_v, solver))

# docs/defaults.md: the sgd table, and a "`--solver X` gives `...`" line per section.
table = {"factors": "--factors", "epochs": "--epochs", "lr": "--lr", "reg (factors)": "--reg",
         "reg-bias": "--reg-bias", "init-std": "--init-std"}
rows = dict(re.findall(r"^\| ([a-z() -]+?) \| ([^|]+?) \|", defaults_md, re.M))
missing = [k for k in table if k not in rows]
if missing:
    problems.append("docs/defaults.md: the sgd table lacks %s" % missing)
check_flags("sgd table", "sgd", [(table[k], rows[k]) for k in table if k in rows])
if rows.get("y-range") != help_default["--y-range"].split(";")[0]:
    problems.append("docs/defaults.md: y-range %s, train --help: %s" % (rows.get("y-range"), help_default["--y-range"]))
for solver, key in [("adam", "`--solver adam`"), ("als", "`--solver als`"), ("nn", "`--model nn`")]:
    m = re.search(re.escape(key) + r" gives `([^`]*)`", defaults_md)
    if not m:
        problems.append("docs/defaults.md: no line \"%s gives `...`\"" % key)
        continue
    flags = re.findall(r"(--[a-z-]+) (\S+)", m.group(1))
    check_flags(key, solver, [(o, v) for o, v in flags if o != "--solver"])

if problems:
    print("\n".join("FAIL: " + p for p in problems), file=sys.stderr)
    sys.exit(1)
print("ok: README.md (%d train defaults) and docs/defaults.md agree with train --help" % len(stated))
EOF
# The accuracy README.md and BENCHMARKS.md state for the nn on ml-latest-small
# is what the code measures now (bench/accuracy.sh's command for that row),
# within 0.0005: BLAS kernels may round differently on another CPU. The run
# takes seconds optimised but over a minute under ASan, and test_train already
# trains the nn under the sanitizers: the ASan build leaves it to the
# optimised one.
if grep -qa __asan_init "$BIN"; then
    echo "skip: the nn accuracy check (ASan build; the optimised build runs it)"
    echo "e2e_docs: all checks passed"
    exit 0
fi
DATA=${FACTORLENS_DATA:-$REPO/../shared/data}
RATINGS=$DATA/ml-latest-small/ratings.csv
[ -r "$RATINGS" ] || { echo "FAIL: missing $RATINGS: set FACTORLENS_DATA" >&2; exit 1; }
"$BIN" train --ratings "$RATINGS" --holdout 0.2 --seed 42 --model nn --threads 2 --json --quiet |
    tail -n 1 >"$T/nn.json"
python3 - "$T/nn.json" "$REPO/README.md" "$REPO/BENCHMARKS.md" <<'EOF'
import json, re, sys
mse = json.load(open(sys.argv[1]))["test_mse"]
readme, bench = (open(p, encoding="utf-8").read() for p in sys.argv[2:4])
m = re.search(r"^\| ml-latest-small, 80/20 seed 42 \| nn \| MSE ([0-9.]+) \|", readme, re.M)
b = re.search(r"^\| ml-latest-small 80/20 seed 42 \| nn / nn \| [0-9.]+ \| \*\*([0-9.]+)\*\* \|",
              bench, re.M)
problems = []
for name, found in [("README.md", m), ("BENCHMARKS.md", b)]:
    if not found:
        problems.append("%s: no ml-latest-small nn row" % name)
    elif abs(float(found.group(1)) - mse) > 0.0005:
        problems.append("%s states nn MSE %s on ml-latest-small; the code gives %.6f"
                        % (name, found.group(1), mse))
if problems:
    sys.exit("\n".join("FAIL: " + p for p in problems))
print("ok: README.md and BENCHMARKS.md state the nn's ml-latest-small MSE (%.6f)" % mse)
EOF
echo "e2e_docs: all checks passed"
