"""make bench: argon2-cffi's bare argon2id verify, run by scripts/bench.py with the interpreter of
the environment scripts/install-deps.sh made for it (.tools/argon2-cffi). For each line read, one
verify of a wrong password against the PHC hash given as the argument; answers the time it took,
in microseconds, measured here."""
import sys
import time

from argon2.exceptions import VerifyMismatchError
from argon2.low_level import Type, verify_secret

phc = sys.argv[1].encode()
for _ in sys.stdin:
    start = time.perf_counter()
    try:
        verify_secret(phc, b"not the password", Type.ID)
        sys.exit("the wrong password matched")
    except VerifyMismatchError:
        pass
    print(round((time.perf_counter() - start) * 1e6), flush=True)
