"""Shared by the Python tests: count checks, print failures, close with the CTest-readable
line "NAME: N passed, N failed" and the exit code; run `qbmap point`."""
import subprocess
import sys

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL", what)


def report(name):
    print(f"{name}: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def qbmap_point(qbmap, model, params):
    """Every field `qbmap point MODEL name=value ...` prints, as {name: float}; params are
    passed with repr() so that doubles round-trip exactly."""
    args = [f"{k}={v!r}" for k, v in params.items()]
    out = subprocess.run([qbmap, "point", model] + args, capture_output=True, text=True,
                         check=True).stdout
    vals = {}
    for line in out.splitlines():
        if line.startswith("status: "):
            break
        k, v = line.split(" = ")
        vals[k] = float(v)
    return vals
