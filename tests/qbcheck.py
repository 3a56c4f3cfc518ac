"""Shared by the Python tests: count checks, print failures, close with the CTest-readable
line "NAME: N passed, N failed" and the exit code; run `qbmap point`.  Nothing passes by
default: no check at all is a failure, and an exception (a setup step that failed: a run, a
missing file) is printed and counted as a failure inside `guarded(NAME)`, which closes with
the report line."""
import contextlib
import subprocess
import sys
import traceback

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL", what)
    return bool(ok)


def report(name):
    global failed
    if passed + failed == 0:
        failed += 1
        print("FAIL no checks were made")
    print(f"{name}: {passed} passed, {failed} failed")
    sys.stdout.flush()
    sys.exit(1 if failed else 0)


@contextlib.contextmanager
def guarded(name):
    """with guarded(NAME): the test body; any exception is a failure; then report(NAME)."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - every setup failure must be reported
        traceback.print_exc(file=sys.stdout)
        detail = ""
        if isinstance(e, subprocess.CalledProcessError):
            detail = f": {e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr}"
        check(False, f"setup failed: {type(e).__name__}: {e}{detail}")
    report(name)


def qbmap_point(qbmap, model, params):
    """Every field `qbmap point MODEL name=value ...` prints, as {name: float}; params are
    passed with repr() so that doubles round-trip exactly.  Raises if the output is not
    exactly fields (`status` last) then the status in words on lines starting with '#'."""
    args = [f"{k}={v!r}" for k, v in params.items()]
    out = subprocess.run([qbmap, "point", model] + args, capture_output=True, text=True,
                         check=True).stdout
    vals = {}
    lines = out.splitlines()
    fields = [line for line in lines if not line.startswith("#")]
    if not fields or not fields[-1].startswith("status = ") or not lines[-1].startswith("# status"):
        raise ValueError(f"qbmap point {model}: not fields, then the status in words:\n{out}")
    for line in fields:
        k, v = line.split(" = ")
        if k in vals:
            raise ValueError(f"qbmap point {model}: field {k} printed twice")
        vals[k] = float(v)
    return vals


def yaml_config(model, fixed, axes, fields=None):
    """A qbmap config: axes as (name, "spec") pairs written into {name: NAME, SPEC}, fixed
    values with repr() (exact doubles), fields (None: all)."""
    lines = [f"model: {model}", "axes:"]
    lines += [f"  - {{name: {n}, {spec}}}" for n, spec in axes]
    lines.append("fixed: {" + ", ".join(f"{k}: {v!r}" for k, v in fixed.items()) + "}")
    if fields:
        lines.append("fields: [" + ", ".join(fields) + "]")
    return "\n".join(lines) + "\n"
