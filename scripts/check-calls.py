#!/usr/bin/env python3
"""Checks scripted calls against tests/fixtures/calls/FORMAT.md without scoring them.

Usage: scripts/check-calls.py FILE_OR_DIR...   (a .txt/.toml stem or a folder of them)

Corpus authors run this to find format mistakes; it never runs the product, so
an author of held-out calls sees no score of the rules.
"""
import re
import sys
import tomllib
from pathlib import Path

KINDS = {"discovery", "demo", "pricing", "renewal", "cold_call", "follow_up"}
CAUSES = {"none", "preparation", "objection", "agenda", "product_knowledge", "talk_ratio", "icp_fit"}
SALVAGE = {"none", "recovery_email", "follow_up_call", "loop_in_stakeholder", "disqualify"}
TYPES = {"price", "timing", "authority", "need", "competitor"}


def check(stem: Path) -> list[str]:
    errors = []
    txt, toml_path = stem.with_suffix(".txt"), stem.with_suffix(".toml")
    if not txt.exists() or not toml_path.exists():
        return [f"needs both {txt.name} and {toml_path.name}"]
    prospect_lines, words = [], 0
    for n, line in enumerate(txt.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, rest = line.partition(":")
        if not sep or key not in {"rep", "prospect", "pause", "overlap"}:
            errors.append(f"{txt.name}:{n}: expected 'rep:', 'prospect:', 'pause:' or 'overlap:'")
            continue
        rest = rest.strip()
        if key in {"pause", "overlap"}:
            try:
                float(rest)
            except ValueError:
                errors.append(f"{txt.name}:{n}: {key} needs seconds")
            continue
        if re.search(r"[0-9$%&@/]", rest):
            errors.append(f"{txt.name}:{n}: spell out digits and symbols: {rest[:60]!r}")
        words += len(rest.split())
        if key == "prospect":
            prospect_lines.append(rest)
    try:
        data = tomllib.loads(toml_path.read_text())
    except tomllib.TOMLDecodeError as e:
        return errors + [f"{toml_path.name}: {e}"]
    call, prep, truth = data.get("call", {}), data.get("prep", {}), data.get("truth", {})
    if call.get("kind") not in KINDS:
        errors.append(f"{toml_path.name}: call.kind must be one of {sorted(KINDS)}")
    if not str(call.get("started_at", "")).endswith("Z"):
        errors.append(f"{toml_path.name}: call.started_at must be RFC 3339 UTC")
    for field in ["account", "contact", "role", "rep", "agenda", "minutes"]:
        if field not in prep:
            errors.append(f"{toml_path.name}: prep.{field} missing")
    outcome = truth.get("outcome")
    if outcome not in {"good", "bad"}:
        errors.append(f"{toml_path.name}: truth.outcome must be good or bad")
    primary = truth.get("primary_root_cause")
    if primary not in CAUSES:
        errors.append(f"{toml_path.name}: truth.primary_root_cause {primary!r} unknown")
    for cause in truth.get("acceptable_root_causes", []) + truth.get("failure_categories", []):
        if cause not in CAUSES - {"none"}:
            errors.append(f"{toml_path.name}: root cause {cause!r} unknown")
    if truth.get("salvage_action") not in SALVAGE:
        errors.append(f"{toml_path.name}: truth.salvage_action unknown")
    if outcome == "good" and (primary != "none" or truth.get("salvage_action") != "none" or truth.get("failure_categories")):
        errors.append(f"{toml_path.name}: a good call has primary none, salvage none, no failure categories")
    if outcome == "bad" and primary == "none":
        errors.append(f"{toml_path.name}: a bad call needs a primary root cause")
    if not isinstance(truth.get("next_step_secured"), bool):
        errors.append(f"{toml_path.name}: truth.next_step_secured must be true or false")

    def find_quote(quote: str, what: str):
        hits = [l for l in prospect_lines if quote in l]
        if len(quote.split()) < 5 and quote not in prospect_lines:
            errors.append(f"{toml_path.name}: {what} quote needs five or more words or the whole line: {quote!r}")
        if not hits:
            errors.append(f"{toml_path.name}: {what} quote is not in any prospect line: {quote!r}")
        elif len(hits) > 1:
            errors.append(f"{toml_path.name}: {what} quote is in {len(hits)} prospect lines: {quote!r}")

    for objection in truth.get("objections", []):
        if objection.get("type") not in TYPES:
            errors.append(f"{toml_path.name}: objection type {objection.get('type')!r} unknown")
        if not isinstance(objection.get("handled"), bool):
            errors.append(f"{toml_path.name}: objection needs handled = true|false")
        find_quote(objection.get("quote", ""), "objection")
    for quote in truth.get("not_objections", []):
        find_quote(quote, "not_objections")
    minutes = words / 150
    return errors, minutes


def stems(arg: str):
    path = Path(arg)
    if path.is_dir():
        return sorted({p.with_suffix("") for p in path.glob("*.txt")})
    return [path.with_suffix("")]


def main() -> int:
    failed = 0
    for arg in sys.argv[1:]:
        for stem in stems(arg):
            result = check(stem)
            errors, minutes = (result, 0.0) if isinstance(result, list) else result
            status = "ok" if not errors else "FAIL"
            print(f"{status:4} {stem.name} (~{minutes:.1f} min)")
            for e in errors:
                print("     " + e)
            failed += bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
