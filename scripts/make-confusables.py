#!/usr/bin/env python3
"""Writes crates/latchkey-core/src/auth/confusables.txt, the UTS #39 confusable prototypes that usernames'
skeletons are built from, out of the table in the unicode-security crate's source (which is
generated from Unicode's confusables.txt). One line per character, sorted: its code point and its
prototype's code points, in upper-case hex, the first padded to 5 digits so that the lines sort
by code point.

Only characters a username's key can hold are kept: the key is NFKC-normalised, lower-cased and
made of letters, digits and "@.+-_", and the skeleton decomposes it (NFD) first, so a character
outside that set, such as the mathematical alphabets NFKC folds to ASCII, never reaches the table.
The kept set is generous (any letter, number or mark) and the Rust test checks every character a
username can hold against the crate, so a narrower Unicode here shows up there, not in use.

Usage: scripts/make-confusables.py ~/.cargo/registry/src/*/unicode-security-0.1.3/src/tables.rs
"""
import pathlib
import re
import sys
import unicodedata


def reachable():
    """Every character the NFD of a lower-cased, NFKC-normalised username character can hold."""
    found = set()
    for code in range(0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        if unicodedata.category(chr(code)) == "Cn":
            # Unassigned in this Python's Unicode, maybe a letter in Rust's newer one: kept.
            found.add(chr(code))
            continue
        for d in unicodedata.normalize("NFKC", chr(code)):
            if unicodedata.category(d)[0] in "LNM" or d in "@.+-_":
                found.update(unicodedata.normalize("NFD", d.lower()))
                found.update(unicodedata.normalize("NFD", d))
    return found


source = pathlib.Path(sys.argv[1]).read_text()
start = source.index("const CONFUSABLES: &'static [(char, &'static [char])] = &[")
end = source.index("];", start)
entries = re.findall(r"\('\\u\{([0-9a-f]+)\}',\s*&\[([^\]]*)\]\)", source[start:end])
keep = reachable()
lines = []
for key, targets in entries:
    code = int(key, 16)
    assert code <= 0xFFFFF, key
    prototype = [int(t, 16) for t in re.findall(r"\\u\{([0-9a-f]+)\}", targets)]
    if chr(code) not in keep:
        continue
    lines.append((code, f"{code:05X} " + " ".join(f"{t:X}" for t in prototype)))
lines.sort()
assert len(lines) > 2000 and len({c for c, _ in lines}) == len(lines)
out = pathlib.Path(__file__).resolve().parent.parent / "crates/latchkey-core/src/auth/confusables.txt"
out.write_text("".join(line + "\n" for _, line in lines))
print(f"{len(lines)} prototypes written to {out}")
