#!/usr/bin/env python3
"""Writes src-tauri/src/auth/confusables.txt, the UTS #39 confusable prototypes that usernames'
skeletons are built from, out of the table in the unicode-security crate's source (which is
generated from Unicode's confusables.txt). One line per character, sorted: its code point and its
prototype's code points, in upper-case hex, the first padded to 5 digits so that the lines sort
by code point.

Usage: scripts/make-confusables.py ~/.cargo/registry/src/*/unicode-security-0.1.3/src/tables.rs
"""
import pathlib
import re
import sys

source = pathlib.Path(sys.argv[1]).read_text()
start = source.index("const CONFUSABLES: &'static [(char, &'static [char])] = &[")
end = source.index("];", start)
entries = re.findall(r"\('\\u\{([0-9a-f]+)\}',\s*&\[([^\]]*)\]\)", source[start:end])
lines = []
for key, targets in entries:
    code = int(key, 16)
    assert code <= 0xFFFFF, key
    prototype = [int(t, 16) for t in re.findall(r"\\u\{([0-9a-f]+)\}", targets)]
    lines.append((code, f"{code:05X} " + " ".join(f"{t:X}" for t in prototype)))
lines.sort()
assert len(lines) > 5000 and len({c for c, _ in lines}) == len(lines)
out = pathlib.Path(__file__).resolve().parent.parent / "src-tauri/src/auth/confusables.txt"
out.write_text("".join(line + "\n" for _, line in lines))
print(f"{len(lines)} prototypes written to {out}")
