#!/usr/bin/env python3
"""Regenerates crates/latchkey-core/src/auth/common_passwords.rs from the zxcvbn-ts common dictionary.

Source: the npm package @zxcvbn-ts/language-common 3.0.4 (MIT; its `passwords.json` is the
frequency-ranked list zxcvbn uses). We keep the 20,000 most common entries, lower-cased, sorted,
one per line, so the app can binary-search the text in place (no table of pointers in the binary). Usage:
    npm install --prefix .tools @zxcvbn-ts/language-common@3.0.4
    python3 scripts/make-password-list.py .tools/node_modules/@zxcvbn-ts/language-common/src/passwords.json
"""
import json
import sys

TOP = 20_000
ranked = json.load(open(sys.argv[1], encoding="utf-8"))[:TOP]
words = sorted({w.lower() for w in ranked})
out = "crates/latchkey-core/src/auth/common-passwords.txt"
with open(out, "w", encoding="utf-8") as f:
    f.write("\n".join(w for w in words if "\n" not in w) + "\n")
print(f"{len(words)} passwords written to {out}")
