"""Shared by the Python tests: count checks, print failures, close with the CTest-readable
line "NAME: N passed, N failed" and the exit code."""
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
