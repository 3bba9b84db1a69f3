#!/usr/bin/env bash
# Leave-one-author-out cross-validation of the whole brief on train: for each train
# author, the stance model is trained without that author's calls and the brief is
# scored on them. Train figures from the shipped model flatter the rules (the model
# saw those calls); these do not, so rule changes can be chosen here without ever
# looking at a held-out call. Text mode; a few minutes on 2 cores.
#   scripts/cv-eval.sh [OUT_DIR]      prints the table; OUT_DIR keeps the per-fold JSON
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/target/release/callcoach"
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
AUTHORS=$(ls "$ROOT/tests/fixtures/calls/train" | sed -n 's/^\(t[a-z]\)_.*/\1/p' | sort -u)
# Each fold keeps the shipped model's threshold (cross-validating one per fold
# would train authors² models).
THRESHOLD=$(python3 -c "import json; print(json.load(open('$ROOT/config/stance_model.json'))['threshold'])")
for a in $AUTHORS; do
    "$BIN" train-judge --without "${a}_" --threshold "$THRESHOLD" --out "$OUT/model_$a.json" >/dev/null
    "$BIN" eval --set train --only "${a}_" --stance-model "$OUT/model_$a.json" --json "$OUT/eval_$a.json" >/dev/null
done
python3 - "$OUT" <<'PY'
import json, sys, glob
results = []
for f in sorted(glob.glob(sys.argv[1] + "/eval_*.json")):
    for report in json.load(open(f)):
        results += report["results"]
n = len(results)
def frac(ok): return sum(1 for r in results if ok(r)) / max(n, 1)
truth = found = matched = handled = 0
for r in results:
    truth += len(r["truth"]["objections"]); found += len(r["objections"])
    for t, m in zip(r["truth"]["objections"], r["matches"]):
        if m is not None:
            matched += 1
            handled += r["objections"][m]["handled"] == t["handled"]
primary = lambda r: r["primary_root_cause"] == r["truth"]["primary_root_cause"] or r["primary_root_cause"] in r["truth"].get("acceptable_root_causes", [])
print(f"| field | train, leave-one-author-out ({n} calls) |\n|---|---|")
print(f"| outcome good/bad | {frac(lambda r: r['outcome'] == r['truth']['outcome']):.0%} |")
print(f"| primary root cause acceptable | {frac(primary):.0%} |")
print(f"| salvage action | {frac(lambda r: r['salvage_action'] == r['truth']['salvage_action']):.0%} |")
print(f"| objection precision | {matched / max(found, 1):.0%} ({matched}/{found}) |")
print(f"| objection recall | {matched / max(truth, 1):.0%} ({matched}/{truth}) |")
print(f"| handled vs fumbled | {handled / max(matched, 1):.0%} ({handled}/{matched}) |")
print(f"| next step secured | {frac(lambda r: r['next_step_secured'] == r['truth']['next_step_secured']):.0%} |")
PY
