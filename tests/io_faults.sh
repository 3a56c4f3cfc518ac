#!/usr/bin/env bash
# I/O faults: every failure is collective (never a hang), exits non-zero with exactly one line on
# stderr (besides mpiexec's and Open MPI's own noise), never leaves a file that claims a
# completeness it lacks, and leaves a file that --resume finishes bitwise identical to an
# uninterrupted run.  Cases:
#   - a full disk in the middle of the sweep on 2 ranks (tmpfs; the space check and the
#     reservation switched off through QBMAP_TEST_FAULT so that the disk really fills), and the
#     free-space check with the complete estimate;
#   - a failure of one rank at each collective step (fault injection: the HDF5 call is made,
#     then reported failed on that rank only);
#   - two runs on one output (the lock; --force and --resume too), and a file replaced behind a
#     run's back (the owner token);
#   - a full disk before the post-passes (the run waits at a gate while the tmpfs is filled);
#   - paths: .partial as a symbolic link or a leftover file, a device node, dangling and other
#     symbolic links, a directory, too-long names, a file locked by a reader, a 2^62-point grid,
#     too many blocks;
#   - tampered files offered to --resume (shape, type, layout, coordinates, done mask, blocks);
#   - graceful stops (SIGUSR1 through mpiexec, SIGTERM to the ranks): exit 3 and NaN in every
#     unfinished block; SIGTERM to mpiexec itself (Open MPI's mpiexec then exits 1: documented).
# Waits are bounded (timeout) and synchronised through QBMAP_TEST_GATE, never through sleeps.
# The tmpfs cases need mount(2) (root): without it they print SKIP.
# Usage: io_faults.sh QBMAP MPIEXEC TESTS_SOURCE_DIR
set -u
qbmap=$1 mpiexec=$2 src=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
py=/usr/bin/python3
work=$(mktemp -d)
mounts=() bg=()
cleanup() {
  for p in "${bg[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
pass=0 fail=0 skip=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/    /' "$2" | tail -8; }
check() { if [ "$2" = 0 ]; then ok "$1"; else bad "$1" "${3:-}"; fi; }
skipped() { skip=$((skip + 1)); echo "SKIP $1"; }

T="timeout -k 5 60"
run() { $T "$mpiexec" -n "$@"; }                  # run N qbmap-args...
noise='^-----|^mpiexec|^Primary job|^a non-zero|^the job|^  Process name|^  Exit code|^$|^mca_fbtl'
lines() { grep -cvE "$noise" "$1"; }            # stderr lines that are qbmap's own

# expect NAME CODE TEXT -- command...: exit CODE, exactly one own stderr line containing TEXT
expect() {
  local name=$1 code=$2 text=$3
  shift 4
  "$@" >"$work/out.log" 2>"$work/err.log"
  local rc=$? n
  n=$(lines "$work/err.log")
  if [ "$rc" = "$code" ] && [ "$n" = 1 ] && grep -qF -- "$text" "$work/err.log"; then
    ok "$name"
  else
    bad "$name: exit $rc (want $code), $n stderr lines, want '$text'" "$work/err.log"
  fi
}

# h5state FILE: "complete", "done=K/N", "none" or "unreadable: ..."
h5state() {
  $py -c "
import h5py, os, sys
p = sys.argv[1]
if not os.path.exists(p): print('none'); sys.exit()
try:
    f = h5py.File(p, 'r')
    print('complete' if f.attrs['complete'] == 1 else 'done=%d/%d' % (f['blocks/done'][()].sum(), f['blocks/done'].size))
except Exception as e: print('unreadable:', str(e).replace(chr(10), ' '))
" "$1" 2>&1
}
notcomplete() { local s; s=$(h5state "$1"); [ "$s" != complete ] && [ "${s#unreadable}" = "$s" ] && [ "$s" != none ]; }
same() { $py "$src/compare_h5.py" "$1" "$2" >"$work/cmp.log" 2>&1; }
# start CMD...: runs it in the background (its pid in $pid) with a 60 s watchdog that kills it;
# unlike timeout(1), this passes signals sent to $pid straight to the command
start() {
  "$@" &
  pid=$!
  bg+=("$pid")
  (for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    pkill -KILL -P "$pid"; kill -KILL "$pid") >/dev/null 2>&1 & # the ranks, then mpiexec
}
waitfor() { # waitfor FILE: until it exists and is not empty (at most 60 s)
  for _ in $(seq 600); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}
reaches() { # reaches FILE STATE: until h5state FILE prints STATE (at most 60 s)
  for _ in $(seq 600); do [ "$(h5state "$1")" = "$2" ] && return 0; sleep 0.1; done
  return 1
}
tmpfs() { # tmpfs DIR SIZE: mounts a tmpfs, 1 on failure
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2" tmpfs "$1" 2>/dev/null || return 1
  mounts+=("$1")
}

# the sweep of these tests: 12 blocks of 3000 points (6 rounds on 2 ranks), 3 fields, both
# post-passes; and the same without post-passes
cat >"$work/io.yaml" <<'EOF'
model: ep
axes:
  - {name: gamma_b, values: [0.5, 1.0, 1.5]}
  - {name: alpha, min: -0.75, max: 1.0, n: 71}
  - {name: delta_r, min: -2.0, max: 2.0, n: 161}
fixed: {E_max: 1000, t: 10}
fields: [growth_rate, E_B, status]
boundaries: {axis: delta_r}
eps: {axes: [delta_r, alpha]}
EOF
grep -v '^boundaries\|^eps' "$work/io.yaml" >"$work/grid.yaml"
opts=(--block-points 3000 --flush 0 --progress 1000)
cfg=$work/io.yaml
run 2 "$qbmap" run "$cfg" -o "$work/ref.h5" "${opts[@]}" >"$work/ref.log" 2>&1
check "reference run" $? "$work/ref.log"
run 2 "$qbmap" run "$work/grid.yaml" -o "$work/refgrid.h5" "${opts[@]}" >"$work/refgrid.log" 2>&1
check "reference run without post-passes" $? "$work/refgrid.log"

# resume FILE [RANKS]: --resume finishes it, bitwise identical to the reference
resumes() {
  local name=$1 out=$2 n=${3:-2} c=${4:-$cfg} ref=${5:-$work/ref.h5}
  run "$n" "$qbmap" run "$c" -o "$out" --resume "${opts[@]}" >"$work/res.log" 2>&1
  local rc=$?
  if [ $rc = 0 ] && same "$ref" "$out"; then ok "$name: --resume on $n rank(s) finishes it identically"; else
    bad "$name: --resume exit $rc, comparison:" "$work/res.log"; grep FAIL "$work/cmp.log" | head -3; fi
}

# ---- 1. one rank fails at a collective step: agreed failure, exit 1, one line, resumable -----
for f in write@1:2 write@0:3 flush@1:2 done@1:2 done@0 open@1 finish@1 fill@1 group@1 mkgroup@0 \
  complete@0; do
  out=$work/f_${f//[@:]/_}.h5
  inject=$f
  [ "$f" = fill@1 ] && inject="write@0:2,fill@1" # the fill runs after a failure
  QBMAP_TEST_FAULT=$inject run 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >"$work/f.log" 2>"$work/f.err"
  rc=$? n=$(lines "$work/f.err")
  if [ $rc = 1 ] && [ "$n" = 1 ] && grep -q "qb_h5.c:[0-9]*: .*injected fault" "$work/f.err" &&
    notcomplete "$out" && ! [ -e "$out.lock" ]; then
    ok "fault $f: exit 1, one line naming the call and its file:line, file not complete"
  else
    bad "fault $f: exit $rc (want 1), $n stderr lines, state $(h5state "$out")" "$work/f.err"
  fi
  resumes "fault $f" "$out" 3
done
grep -h "injected" "$work/f.err" | head -1 | sed 's/^/    e.g. /'

# killed inside the post-pass (rank 0, after changing the group, before H5Fclose): --resume rolls
# the file back from its undo journal first
out=$work/killed.h5
QBMAP_TEST_FAULT=die@0 run 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >/dev/null 2>&1
rc=$?
[ $rc != 0 ] && [ -s "$out.undo" ] && notcomplete "$out"
check "killed inside the post-pass (exit $rc): undo journal left, file not complete" $?
run 2 "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}" >"$work/res.log" 2>&1 &&
  grep -q "rolled back an interrupted post-pass" "$work/res.log" && same "$work/ref.h5" "$out" &&
  ! [ -e "$out.undo" ]
check "killed inside the post-pass: --resume rolls back, finishes identically, drops the journal" $? "$work/res.log"

# the round's data is flushed before its flags: a failed flag write leaves them set or unset,
# never set over NaN (done@1 is the case where rank 0's flags reach the file anyway)
out=$work/flags.h5
QBMAP_TEST_FAULT=done@1:2 run 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >/dev/null 2>&1
$py - "$out" "$work/ref.h5" >"$work/flags.log" 2>&1 <<'EOF'
import sys, h5py, numpy as np
f, r = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
bp, done = int(f.attrs["block_points"]), f["blocks/done"][()]
g, gr = f["growth_rate"][()].ravel(), r["growth_rate"][()].ravel()
for b in range(done.size):
    x, y = g[b * bp:(b + 1) * bp], gr[b * bp:(b + 1) * bp]
    if done[b]:
        assert x.tobytes() == y.tobytes(), f"block {b} flagged done but differs"
    else:
        assert np.isnan(x).all(), f"block {b} not done but not NaN"
print(int(done.sum()), "blocks done, the others NaN")
EOF
check "a failed done-mask write: every flagged block holds its data, every other block NaN" $? "$work/flags.log"

# ---- 2. full disk ---------------------------------------------------------------------------
disk=$work/disk
if tmpfs "$disk" 64m; then
  umount "$disk"
  # the estimate counts everything: a tmpfs holding the field data but not the whole file is
  # refused before any file exists
  fieldbytes=$((3 * 71 * 161 * (8 + 8 + 4)))
  tmpfs "$disk" $(((fieldbytes / 4096 + 2) * 4096))
  expect "disk full: refused before the sweep with the bytes needed and free" 1 \
    "needs " -- run 2 "$qbmap" run "$cfg" -o "$disk/out.h5" "${opts[@]}"
  grep -q "bytes but its file system has .* bytes free" "$work/err.log" && ! ls "$disk"/out.h5* >/dev/null 2>&1
  check "disk full: message names free space, no file left (no .partial, no .lock)" $?
  # the same disk with the check and the reservation off: the sweep meets a full disk on both
  # ranks mid-way; before the fix one rank left the field loop and the other hung
  QBMAP_TEST_FAULT=nospacecheck,noreserve run 2 "$qbmap" run "$cfg" -o "$disk/out.h5" \
    "${opts[@]}" >"$work/df.log" 2>"$work/df.err"
  rc=$? n=$(lines "$work/df.err")
  if [ $rc = 1 ] && [ "$n" = 1 ] && grep -qE "writing round [0-9]+ of [0-9]+ to '.*' failed: src/qb_h5.c:[0-9]+: H5Dwrite: .*No space left on device.*\[rank [01]\]" "$work/df.err" &&
    notcomplete "$disk/out.h5"; then
    ok "disk full mid-sweep on 2 ranks: exit 1 (no hang), one line with file:line, H5Dwrite and ENOSPC"
  else
    bad "disk full mid-sweep: exit $rc, $n lines, state $(h5state "$disk/out.h5")" "$work/df.err"
  fi
  sed 's/^/    /' "$work/df.err" | grep -E "qbmap run" | head -1
  mount -o remount,size=64m "$disk"
  resumes "disk full mid-sweep, then space freed" "$disk/out.h5"
  # with the reservation on but the check off, fallocate() refuses before the sweep
  rm -f "$disk"/*
  mount -o remount,size=$(((fieldbytes / 4096 + 2) * 4096)) "$disk"
  expect "disk full, check off: the reservation refuses the file up front" 1 \
    "could not reserve them (No space left on device" -- env QBMAP_TEST_FAULT=nospacecheck \
    $T "$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$disk/out.h5" "${opts[@]}"
  umount "$disk"

  # post-pass: the sweep fits, then the disk is filled (the run waits at a gate before the
  # post-passes), the post-pass is refused before the file is opened; the file stays readable
  # and --resume finishes it once there is space
  tmpfs "$disk" 8m
  QBMAP_TEST_GATE=post:$work/go1 run 2 "$qbmap" run "$cfg" -o "$disk/out.h5" "${opts[@]}" \
    >"$work/pp.log" 2>"$work/pp.err" &
  pid=$!
  bg+=("$pid")
  reaches "$disk/out.h5" done=12/12
  dd if=/dev/zero of="$disk/filler" bs=4096 >/dev/null 2>&1 # until the disk is full
  avail=$(df -B1 --output=avail "$disk" | tail -1)
  touch "$work/go1"
  wait "$pid"
  rc=$? n=$(lines "$work/pp.err") st=$(h5state "$disk/out.h5")
  if [ $rc = 1 ] && [ "$n" = 1 ] && grep -q "group /boundary .*needs .* bytes but its file system has .* free; the file is unchanged" "$work/pp.err" &&
    [ "$st" = "done=12/12" ]; then
    ok "disk full before the post-pass ($avail bytes free): exit 1, one line; h5py opens the file, sweep kept ($st)"
  else
    bad "disk full before the post-pass: exit $rc, $n lines, state $st" "$work/pp.err"
  fi
  rm -f "$disk/filler"
  resumes "disk full before the post-pass, then space freed" "$disk/out.h5" 1
  # the same with the free-space check off: fallocate() still refuses before the file is opened
  rm -f "$disk"/*
  QBMAP_TEST_FAULT=nospacecheck QBMAP_TEST_GATE=post:$work/go2 run 2 "$qbmap" run "$cfg" \
    -o "$disk/out.h5" "${opts[@]}" >"$work/pp.log" 2>"$work/pp.err" &
  pid=$!
  bg+=("$pid")
  reaches "$disk/out.h5" done=12/12
  dd if=/dev/zero of="$disk/filler" bs=4096 >/dev/null 2>&1
  touch "$work/go2"
  wait "$pid"
  rc=$? st=$(h5state "$disk/out.h5")
  if [ $rc = 1 ] && grep -q "could not reserve them" "$work/pp.err" && [ "$st" = "done=12/12" ]; then
    ok "disk full before the post-pass, check off: the reservation refuses, file intact ($st)"
  else
    bad "post-pass reservation: exit $rc, state $st" "$work/pp.err"
  fi
  rm -f "$disk/filler"
  resumes "post-pass reservation refused, then space freed" "$disk/out.h5" 2
  # with both off, HDF5 itself meets the full disk while writing the new group's metadata in
  # H5Fclose (before the undo journal this left /boundary unreadable and the sweep lost): room
  # for the journal (the file's metadata, a few KiB) plus one page, not for the group
  rm -f "$disk"/*
  QBMAP_TEST_FAULT=nospacecheck,noreserve QBMAP_TEST_GATE=post:$work/go6 run 2 "$qbmap" run "$cfg" \
    -o "$disk/out.h5" "${opts[@]}" >"$work/pp.log" 2>"$work/pp.err" &
  pid=$!
  bg+=("$pid")
  reaches "$disk/out.h5" done=12/12
  leave=$($py -c "
import h5py, os, sys
p = sys.argv[1]
with h5py.File(p, 'r') as f:
    raw = sum(f[k].id.get_storage_size() for k in f if isinstance(f[k], h5py.Dataset))
meta = os.path.getsize(p) - raw + 4096  # journal: metadata plus headers
print((meta + 4095) // 4096 * 4 + 4)  # KiB, whole pages, one page more" "$disk/out.h5")
  dd if=/dev/zero of="$disk/filler" bs=4096 >/dev/null 2>&1
  truncate -s "-${leave}K" "$disk/filler"
  touch "$work/go6"
  wait "$pid"
  rc=$? n=$(lines "$work/pp.err") st=$(h5state "$disk/out.h5")
  if [ $rc = 1 ] && [ "$n" = 1 ] && grep -q "H5Fclose: .*No space left on device.*; the file was rolled back to its finished sweep" "$work/pp.err" &&
    [ "$st" = "done=12/12" ] && ! [ -e "$disk/out.h5.undo" ]; then
    ok "HDF5 meets the full disk inside H5Fclose ($leave KiB free): rolled back, h5py opens it ($st)"
  else
    bad "H5Fclose on a full disk: exit $rc, $n lines, state $st" "$work/pp.err"
  fi
  rm -f "$disk/filler"
  resumes "rolled back post-pass, then space freed" "$disk/out.h5" 3
  umount "$disk"
else
  skipped "full-disk cases: cannot mount a tmpfs here (needs root)"
fi

# ---- 3. two runs on one output; a file replaced behind a run's back ------------------------
export HDF5_USE_FILE_LOCKING=FALSE # as jobs/sweep.sbatch: HDF5's own locks do not help here
out=$work/two.h5
QBMAP_TEST_GATE=round:$work/go3 run 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >"$work/a.log" 2>&1 &
pid=$!
bg+=("$pid")
waitfor "$out.lock"
holder=$(cat "$out.lock")
for mode in "" --force --resume; do
  expect "second run on a running output ${mode:-(plain)}: exit 2 at once, naming the holder" 2 \
    "is in use by another qbmap run (${holder%$'\n'}" -- run 2 "$qbmap" run "$cfg" -o "$out" \
    "${opts[@]}" $mode
done
touch "$work/go3"
wait "$pid"
rc=$?
if [ $rc = 0 ] && same "$work/ref.h5" "$out" && ! [ -e "$out.lock" ]; then
  ok "the first run is unharmed by the refused ones and removes its lock"
else bad "first run after refused ones: exit $rc" "$work/a.log"; fi
grep -h "in use" "$work/err.log" | sed 's/^/    e.g. /'

# a lock file left by a killed run (no holder) does not stop the next run
echo "pid 1 on host gone" >"$work/stale.h5.lock"
run 2 "$qbmap" run "$cfg" -o "$work/stale.h5" "${opts[@]}" >"$work/st.log" 2>&1
check "a stale lock file (its holder gone) is taken over" $? "$work/st.log"

# the issue's case, without the lock (flock not available): run B --force replaces the file
# while run A sweeps; A must not mark B's file complete (owner token), B's file stays B's
out=$work/swap.h5
QBMAP_TEST_FAULT=nolock QBMAP_TEST_GATE=round:$work/go4 run 2 "$qbmap" run "$cfg" -o "$out" \
  "${opts[@]}" >"$work/a.log" 2>"$work/a.err" &
pid=$!
bg+=("$pid")
for _ in $(seq 600); do [ -e "$out" ] && break; sleep 0.1; done
QBMAP_TEST_FAULT=nolock run 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" --force >"$work/b.log" 2>&1
check "without the lock, run B --force replaces the output of running run A" $? "$work/b.log"
touch "$work/go4"
wait "$pid"
rc=$?
if [ $rc = 1 ] && grep -q "is no longer the file this run writes" "$work/a.err" && [ "$(lines "$work/a.err")" = 1 ] &&
  same "$work/ref.h5" "$out"; then
  ok "run A fails (exit 1, one line) and leaves B's complete file untouched"
else bad "run A after being replaced: exit $rc" "$work/a.err"; fi
# a copy moved over the output (same run_id, another inode) before the post-passes
out=$work/moved.h5
QBMAP_TEST_GATE=post:$work/go5 run 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >"$work/a.log" 2>"$work/a.err" &
pid=$!
bg+=("$pid")
reaches "$out" done=12/12
cp "$out" "$out.copy" && mv "$out.copy" "$out"
touch "$work/go5"
wait "$pid"
rc=$?
if [ $rc = 1 ] && grep -q "no longer the file this run writes (another device/inode" "$work/a.err" &&
  notcomplete "$out"; then ok "a file moved over the output is detected at the next reopen, left incomplete"
else bad "moved-over output: exit $rc, state $(h5state "$out")" "$work/a.err"; fi

unset HDF5_USE_FILE_LOCKING

# ---- 4. paths ---------------------------------------------------------------------------------
good=$work/grid.yaml
p=$work/paths
mkdir -p "$p"
echo victim >"$p/victim"
ln -s "$p/victim" "$p/a.h5.partial"
expect ".partial is a symbolic link: refused without --force" 2 "a.h5.partial' (the unfinished skeleton's name) exists and is a symbolic link" -- \
  $T "$qbmap" run "$good" -o "$p/a.h5"
expect ".partial is a symbolic link: refused with --force" 2 "exists and is a symbolic link" -- \
  $T "$qbmap" run "$good" -o "$p/a.h5" --force
expect ".partial is a symbolic link: refused with --resume" 2 "exists and is a symbolic link" -- \
  $T "$qbmap" run "$good" -o "$p/a.h5" --resume
[ "$(cat "$p/victim")" = victim ] && [ -L "$p/a.h5.partial" ] && ! [ -e "$p/a.h5" ]
check ".partial symbolic link: its target is untouched" $?
echo junk >"$p/b.h5.partial"
expect "leftover .partial: refused without --force or --resume" 2 "b.h5.partial' exists: the unfinished skeleton of an interrupted run; allowed: --resume" -- \
  $T "$qbmap" run "$good" -o "$p/b.h5"
[ "$(cat "$p/b.h5.partial")" = junk ]
check "leftover .partial: kept" $?
$T "$qbmap" run "$good" -o "$p/b.h5" --force >/dev/null 2>&1 && [ "$(h5state "$p/b.h5")" = complete ] && ! [ -e "$p/b.h5.partial" ]
check "leftover .partial: removed and rebuilt with --force" $?
echo junk >"$p/c.h5.partial"
$T "$qbmap" run "$good" -o "$p/c.h5" --resume >/dev/null 2>&1 && [ "$(h5state "$p/c.h5")" = complete ]
check "leftover .partial: rebuilt with --resume" $?
mknod "$p/null.h5" c 1 3 2>/dev/null
if [ -c "$p/null.h5" ]; then
  expect "device node as output: refused" 2 "exists and is a character device" -- $T "$qbmap" run "$good" -o "$p/null.h5"
  expect "device node as output: refused with --force" 2 "exists and is a character device" -- \
    $T "$qbmap" run "$good" -o "$p/null.h5" --force
  [ -c "$p/null.h5" ]
  check "device node: still a device node" $?
else skipped "device node: mknod not permitted"; fi
ln -s "$p/nowhere.h5" "$p/dangling.h5"
expect "dangling symbolic link as output: refused without --force" 2 "exists and is a symbolic link" -- \
  $T "$qbmap" run "$good" -o "$p/dangling.h5"
expect "dangling symbolic link as output: refused with --force" 2 "exists and is a symbolic link" -- \
  $T "$qbmap" run "$good" -o "$p/dangling.h5" --force
[ -L "$p/dangling.h5" ] && ! [ -e "$p/nowhere.h5" ]
check "dangling symbolic link: unchanged, nothing created at its target" $?
ln -s "$p/victim" "$p/link.h5"
expect "symbolic link to a file as output, --force: refused" 2 "exists and is a symbolic link" -- \
  $T "$qbmap" run "$good" -o "$p/link.h5" --force
[ "$(cat "$p/victim")" = victim ]
check "symbolic link: its target is untouched" $?
mkdir "$p/dir.h5"
expect "directory as output: refused" 2 "exists and is a directory" -- $T "$qbmap" run "$good" -o "$p/dir.h5" --force
ln -s "$p/victim" "$p/l.h5.lock"
expect "lock file is a symbolic link: refused" 2 "is a symbolic link; allowed: a regular file" -- \
  $T "$qbmap" run "$good" -o "$p/l.h5"
long=$(printf 'x%.0s' $(seq 246))
expect "name too long for .partial: the real reason" 1 "File name too long" -- \
  $T "$qbmap" run "$good" -o "$p/$long.h5"
! ls "$p/$long".* >/dev/null 2>&1
check "name too long: nothing left behind" $?
long=$(printf 'y%.0s' $(seq 250))
expect "name too long for .lock: the real reason" 1 "File name too long" -- \
  $T "$qbmap" run "$good" -o "$p/$long.h5"
expect "missing directory: the real reason" 1 "No such file or directory" -- \
  $T "$qbmap" run "$good" -o "$p/no/such/dir/x.h5"
cat >"$p/huge.yaml" <<'EOF'
model: ep
axes:
  - {name: alpha, min: 0, max: 1, n: 65536}
  - {name: gamma_b, min: 0.5, max: 1, n: 65536}
  - {name: delta_r, min: 0, max: 1, n: 32768}
  - {name: t, min: 0, max: 1, n: 32768}
EOF
vlimit="ulimit -v 4000000;" # no huge allocation; AddressSanitizer cannot run under a limit
ldd "$qbmap" 2>/dev/null | grep -q libasan && vlimit=""
expect "2^62-point grid: the bytes needed and free, before any allocation" 1 \
  "needs 6.09e+20 bytes but its file system has" -- \
  bash -c "$vlimit exec $T \"$qbmap\" run \"$p/huge.yaml\" -o \"$p/huge.h5\""
! ls "$p"/huge.h5* >/dev/null 2>&1
check "2^62-point grid: no file" $?
cat >"$p/blocks.yaml" <<'EOF'
model: ep
axes:
  - {name: alpha, min: 0, max: 1, n: 8192}
  - {name: delta_r, min: 0, max: 1, n: 4097}
fixed: {gamma_b: 1}
fields: [status]
EOF
expect "too many blocks: a clear limit and what is allowed" 2 "too many blocks (at most 16777216); allowed: --block-points of at least" -- \
  $T "$qbmap" run "$p/blocks.yaml" -o "$p/blocks.h5" --block-points 1

# a file locked by a reader (HDF5 file locking): the real reason, and nothing marked complete
out=$work/locked.h5
QBMAP_TEST_FAULT=complete@0 run 2 "$qbmap" run "$cfg" -o "$out" "${opts[@]}" >/dev/null 2>&1
$py -c "
import h5py, sys, time
f = h5py.File(sys.argv[1], 'r'); open(sys.argv[2], 'w').write('x'); time.sleep(60)" "$out" "$work/reader" &
bg+=($!)
waitfor "$work/reader"
expect "output held open by a reader: the real reason (HDF5 file lock)" 1 "unable to lock file" -- \
  run 2 "$qbmap" run "$cfg" -o "$out" --resume "${opts[@]}"
kill "${bg[-1]}" 2>/dev/null
wait "${bg[-1]}" 2>/dev/null
notcomplete "$out"
check "locked output: not marked complete" $?
resumes "locked output, reader gone" "$out"

# ---- 5. tampered files offered to --resume ----------------------------------------------------
base=$work/tamper.h5
QBMAP_TEST_FAULT=write@1:3 run 2 "$qbmap" run "$cfg" -o "$base" "${opts[@]}" >/dev/null 2>&1
tamper() { # tamper NAME EXPECT PYTHON (f is the open file)
  cp "$base" "$work/t.h5"
  $py -c "
import h5py, numpy as np
f = h5py.File('$work/t.h5', 'r+')
$3
f.close()" || { bad "tamper $1: python"; return; }
  expect "tampered ($1): --resume refuses, naming the dataset" 2 "$2" -- \
    run 2 "$qbmap" run "$cfg" -o "$work/t.h5" --resume "${opts[@]}"
  notcomplete "$work/t.h5" || bad "tamper $1: file claims completeness"
}
tamper "field shape" "dataset 'growth_rate' has shape 3 x 71 x 160; this config needs 3 x 71 x 161" \
  "del f['growth_rate']; f.create_dataset('growth_rate', shape=(3, 71, 160), dtype='<f8')"
tamper "field transposed" "dataset 'E_B' has shape 3 x 161 x 71" \
  "del f['E_B']; f.create_dataset('E_B', shape=(3, 161, 71), dtype='<f8')"
tamper "field dtype" "dataset 'growth_rate' has type float32; this config needs float64" \
  "del f['growth_rate']; f.create_dataset('growth_rate', shape=(3, 71, 161), dtype='<f4')"
tamper "big-endian field" "has type float64 big-endian; this config needs float64" \
  "del f['E_B']; f.create_dataset('E_B', shape=(3, 71, 161), dtype='>f8')"
tamper "status dtype" "dataset 'status' has type int64; this config needs int32" \
  "del f['status']; f.create_dataset('status', shape=(3, 71, 161), dtype='<i8')"
tamper "field chunked" "dataset 'growth_rate' is not contiguous and allocated" \
  "del f['growth_rate']; f.create_dataset('growth_rate', shape=(3, 71, 161), dtype='<f8', chunks=(1, 71, 161))"
tamper "field missing" "has no dataset 'E_B'" "del f['E_B']"
tamper "axis values" "axis 'delta_r' holds other coordinates than this config (index 5" \
  "f['delta_r'][5] = f['delta_r'][5] + 1e-9"
tamper "axis missing" "has no dataset 'alpha'" "del f['alpha']"
tamper "axis shape" "dataset 'gamma_b' has shape 4; this config needs 3" \
  "del f['gamma_b']; f['gamma_b'] = np.array([0.5, 1.0, 1.5, 2.0])"
tamper "done mask length" "dataset 'blocks/done' has shape 11; this config needs 12" \
  "d = f['blocks/done'][()]; del f['blocks/done']; f['blocks/done'] = d[:11]"
tamper "done mask dtype" "dataset 'blocks/done' has type int32; this config needs uint8" \
  "d = f['blocks/done'][()]; del f['blocks/done']; f['blocks/done'] = d.astype('<i4')"
tamper "block ids" "dataset 'blocks/block' holds other values than 0, 1, 2, ... (at index 4)" \
  "f['blocks/block'][4] = 7"
tamper "block_points" "dataset 'blocks/block' has shape 12; this config needs 6" "f.attrs['block_points'] = np.int64(6000)"
tamper "group replaced by a dataset" "'/boundary' is not a readable group" "del f['boundary']; f['boundary'] = [1.0]"
resumes "untampered original" "$base"

# ---- 6. graceful stops: exit 3 and NaN in every unfinished block ------------------------------
nancheck() { # nancheck FILE: not-done blocks NaN in every float field, done blocks as the reference
  $py - "$1" "$work/ref.h5" >"$work/nan.log" 2>&1 <<'EOF'
import sys, h5py, numpy as np
f, r = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
bp, done = int(f.attrs["block_points"]), f["blocks/done"][()]
assert 0 < done.sum() < done.size, f"want a partial file, done = {done}"
for name in ("growth_rate", "E_B"):
    x, y = f[name][()].ravel(), r[name][()].ravel()
    for b in range(done.size):
        a, c = x[b * bp:(b + 1) * bp], y[b * bp:(b + 1) * bp]
        assert (a.tobytes() == c.tobytes()) if done[b] else np.isnan(a).all(), f"{name} block {b}"
print("done", int(done.sum()), "of", done.size, "; the rest NaN")
EOF
}
# stopped OUT SIGNAL mpiexec|ranks: a run on 2 ranks held before its third of 12 blocks (the
# gate never opens) gets SIGNAL, sent to mpiexec or to its children (the ranks); rc = its exit
stopped() {
  start env QBMAP_TEST_GATE=round:$work/never "$mpiexec" -n 2 "$qbmap" run "$cfg" -o "$1" "${opts[@]}" >"$work/s.log" 2>"$work/s.err"
  reaches "$1" done=2/12
  if [ "$3" = ranks ]; then pkill "-$2" -P "$pid"; else kill "-$2" "$pid"; fi
  wait "$pid"
  rc=$?
}
out=$work/usr1.h5
stopped "$out" USR1 mpiexec
if [ $rc = 3 ] && grep -q "checkpointed, not finished" "$work/s.err" && [ "$(lines "$work/s.err")" = 1 ] && nancheck "$out"; then
  ok "SIGUSR1 through mpiexec: exit 3, one line, unfinished blocks NaN ($(cat "$work/nan.log"))"
else bad "SIGUSR1: exit $rc" "$work/s.err"; cat "$work/nan.log"; fi
resumes "SIGUSR1 checkpoint" "$out" 3

out=$work/term.h5
stopped "$out" TERM ranks
if [ $rc = 3 ] && nancheck "$out"; then ok "SIGTERM to the ranks: exit 3 through mpiexec, unfinished blocks NaN"
else bad "SIGTERM to the ranks: exit $rc" "$work/s.err"; cat "$work/nan.log"; fi
resumes "SIGTERM checkpoint" "$out" 1

# SIGTERM to mpiexec: Open MPI's mpiexec sets its own exit status to 1 before it passes SIGTERM
# on to the ranks (and SIGKILLs them after odls_base_sigkill_timeout, 1 s); it never returns the
# ranks' 3.  The ranks still checkpoint: the file is resumable.
out=$work/mterm.h5
stopped "$out" TERM mpiexec
if [ $rc != 0 ] && notcomplete "$out"; then
  ok "SIGTERM to mpiexec: exit $rc (Open MPI's mpiexec: 1, never the ranks' 3), file not complete; ranks checkpointed: $(grep -c "checkpointed, not finished" "$work/s.err")"
else bad "SIGTERM to mpiexec: exit $rc" "$work/s.err"; fi
resumes "SIGTERM-to-mpiexec checkpoint" "$out" 2

echo "io_faults: $pass passed, $fail failed${skip:+ ($skip skipped)}"
[ "$fail" = 0 ]
