#!/usr/bin/env python3
"""Breaks 6-word runs that a train script shares by chance with a held-out script.

The held-out set is frozen, so train scripts give way: a filler ("uh") goes in
after the third word of each shared run, and the train truth's quotes follow
the edit. Run after adding train calls; tests/judgement.rs checks the result.
"""
import glob, re, tomllib

ROOT = "tests/fixtures/calls"

def words(t):
    return [w.lower().replace("'", "") for w in re.split(r"[^\w']+", t) if w]

def runs(t):
    w = words(t)
    return {" ".join(w[i:i + 6]) for i in range(len(w) - 5)}

held = set()
held_lines = set()  # whole lines of four or more words (tests/judgement.rs checks these too)
for f in glob.glob(f"{ROOT}/heldout/*.txt"):
    for l in open(f):
        if ":" in l and not l.startswith("#"):
            held |= runs(l.split(":", 1)[1])
            w = words(l.split(":", 1)[1])
            if len(w) >= 4:
                held_lines.add(" ".join(w))

def insert_filler(l, pos):
    """Puts ", uh," at pos, moved past a hyphenated word ("twenty-five") it would split."""
    while pos < len(l) and l[pos] == "-":
        m = re.match(r"-[\w']+", l[pos:])
        pos += m.end() if m else 1
    return (l[:pos] + ", uh," + l[pos:]).replace(", uh,,", ", uh,")

fixed = 0
for f in sorted(glob.glob(f"{ROOT}/train/*.txt") + glob.glob(f"{ROOT}/labelled/*.txt")):
    lines = open(f).read().split("\n")
    changed = False
    for i, l in enumerate(lines):
        if ":" not in l or l.startswith("#"):
            continue
        head, body = l.split(":", 1)
        if " ".join(words(body)) in held_lines:
            toks = list(re.finditer(r"[\w']+", body))
            pos = len(head) + 1 + toks[1].end()
            l = insert_filler(l, pos)
            changed = True
            fixed += 1
        for _ in range(20):
            head, body = l.split(":", 1)
            shared = runs(body) & held
            if not shared:
                break
            run = sorted(shared)[0].split()
            toks = list(re.finditer(r"[\w']+", body))
            ws = [t.group(0).lower().replace("'", "") for t in toks]
            for j in range(len(ws) - 5):
                if ws[j:j + 6] == run:
                    pos = len(head) + 1 + toks[j + 2].end()
                    l = insert_filler(l, pos)
                    changed = True
                    fixed += 1
                    break
            else:
                break
        lines[i] = l
    if not changed:
        continue
    open(f, "w").write("\n".join(lines))
    # The truth's quotes follow the edited lines.
    t = f[:-4] + ".toml"
    prospect = [l for l in lines if l.startswith("prospect:")]
    s = open(t).read()
    truth = tomllib.loads(s)["truth"]
    quotes = [o["quote"] for o in truth.get("objections", []) if "quote" in o]
    quotes += [a for o in truth.get("objections", []) for a in o.get("also", [])]
    quotes += truth.get("not_objections", [])
    for q in quotes:
        if any(q in l for l in prospect):
            continue
        pattern = re.escape(q).replace(r"\ ", r"(?:, uh,)? ")
        pattern = re.sub(r"(\w)(\\[,.?!])", r"\1(?:, uh,)?\2", pattern)
        match = next((m for m in (re.search(pattern, l) for l in prospect) if m), None)
        if match is None:
            print(f"{t}: quote not found after the edit: {q}")
            continue
        s = s.replace('"%s"' % q.replace('"', '\\"'), '"%s"' % match.group(0).replace('"', '\\"'))
    open(t, "w").write(s)
print(f"{fixed} shared runs broken")
