#!/usr/bin/env bash
# The runner `scripts/dist.sh` gives the Tauri CLI instead of cargo. For the release build it
# compiles the app's binary crate (src-tauri/src/main.rs, which only calls latchkey_lib::run())
# at opt-level 3 and everything else as the release profile says ("s", argon2 at 3).
#
# Why: with fat LTO all the program's code is optimised once more when the binary is linked, at
# the binary crate's level. At "s" that pass neither unrolls nor vectorises, which makes argon2,
# the work every sign-up, verify and login waits for, about 1.5x slower than at 3, whatever
# argon2's own level. Raising the whole package to 3 costs 2 MB (every generic function the
# library instantiates is then optimised for speed): more than the installer budget. Raising
# only main.rs gives that last pass level 3 while the library's and the dependencies' functions
# keep their "optimise for size" marks. `make bench` measures the result.
set -euo pipefail
if [ "${1:-}" = build ] && [[ " $* " == *" --release "* ]]; then
  shift
  args=()
  for a in "$@"; do
    if [ "$a" = --bins ]; then args+=(--bin latchkey); else args+=("$a"); fi
  done
  exec cargo rustc "${args[@]}" -- -C opt-level=3
fi
exec cargo "$@"
