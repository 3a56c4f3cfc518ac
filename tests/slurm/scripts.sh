# shellcheck shell=bash
# Part of tests/slurm.sh (sourced; uses its ok, $jobs, $src, $work, $qbmap and the test
# cluster's SLURM_CONF): the job scripts run directly, outside a job.

# one_line NAME RC ERRFILE TEXT: exit code 2 and exactly one line on stderr, containing TEXT
one_line() {
  [ "$2" = 2 ] && [ "$(wc -l <"$3")" = 1 ] && grep -q -F -- "$4" "$3"
  ok "$1: exit 2 and one line naming it (exit $2: $(head -c 300 "$3"))" $?
}

# the reading of a config's `output:` (jobs/requeue.sh, qb_config_output): pairs of the line
# as written and what the scripts read (ERROR: one line, return 2).  Where they read a name,
# qbmap itself (run without -o in an empty directory) must write exactly that file.
forms=(
  'output: a.h5' 'a.h5'
  'output:   dir/a.h5    # a comment' 'dir/a.h5'
  'output: a#b.h5' 'a#b.h5'
  'output: "a b.h5"  # quoted' 'a b.h5'
  "output: 'it.h5'" 'it.h5'
  '"output": q.h5' 'q.h5'
  'output : s.h5' 's.h5'
  'output: -a.h5' '-a.h5'
  $'output: w.h5\r' 'w.h5'
  'output: # only a comment' ''
  'outputs: x.h5' ''
  'output: |' ERROR
  'output: &anchor x.h5' ERROR
  'output: *alias' ERROR
  'output: !!str x.h5' ERROR
  'output: "a\tb.h5"' ERROR
  'output: {x: 1}' ERROR
  'output: [a.h5]' ERROR
  'output: a: b' ERROR
  'output: - a' ERROR
  $'output: a\n  b.h5' ERROR
)
(
  . "$jobs/requeue.sh"
  for ((i = 0; i < ${#forms[@]}; i += 2)); do
    line=${forms[i]} want=${forms[i + 1]} d=$work/form$i
    mkdir -p "$d/dir"
    printf 'model: ep\n%s\naxes:\n  - {name: delta_r, values: [0, 1]}\nfixed: {gamma_b: 1, alpha: 0}\n' "$line" \
      >"$d/c.yaml"
    got=$(qb_config_output "$d/c.yaml" 2>"$d/err")
    rc=$?
    if [ "$want" = ERROR ]; then
      [ "$rc" = 2 ] && [ -z "$got" ] && [ "$(wc -l <"$d/err")" = 1 ] &&
        grep -q "c.yaml:2: output: " "$d/err" ||
        echo "'$line': expected one error line, got [$got] (return $rc): $(cat "$d/err")"
    elif [ "$rc" != 0 ] || [ "$got" != "$want" ]; then
      echo "'$line': read [$got] (return $rc), expected [$want]"
    elif [ -n "$want" ]; then
      (cd "$d" && "$qbmap" run c.yaml >run.log 2>&1)
      [ -f "$d/$want" ] && [ "$(cd "$d" && find . -name '*.h5' | wc -l)" = 1 ] ||
        echo "'$line': qbmap wrote $(cd "$d" && find . -name '*.h5'), not $want"
    fi
  done
) >"$work/forms.log" 2>&1
ok "the scripts read output: as qbmap does, or refuse ($(wc -l <"$work/forms.log") wrong)" \
  $([ -s "$work/forms.log" ] && echo 1 || echo 0)
sed 's/^/    /' "$work/forms.log"

# sweep.sbatch outside a job: no OUTPUT, no output: -> $SCRATCH/<config>.h5; run again it
# resumes the (complete) file and leaves it as it is, never overwriting
mkdir -p "$work/direct"
direct() { (cd "$work/direct" && SCRATCH=$work/direct/scratch bash "$@"); }
mkdir -p "$work/direct/scratch"
direct "$jobs/sweep.sbatch" "$src/data/tiny.yaml" >"$work/direct1.log" 2>&1
ok "sweep.sbatch run directly: \$SCRATCH/tiny.h5 (exit $?)" \
  $([ -f "$work/direct/scratch/tiny.h5" ] && ! [ -e "$work/direct/tiny.h5" ] && echo 0 || echo 1)
sum=$(md5sum <"$work/direct/scratch/tiny.h5")
direct "$jobs/sweep.sbatch" "$src/data/tiny.yaml" >"$work/direct2.log" 2>&1
rc=$?
[ "$rc" = 0 ] && grep -q -- "--resume" "$work/direct2.log" &&
  grep -q "file complete" "$work/direct2.log" &&
  [ "$(md5sum <"$work/direct/scratch/tiny.h5")" = "$sum" ]
ok "sweep.sbatch run again: --resume, the complete file left as it is (exit $rc)" $?

# bad input: one line, exit 2, nothing written
QBMAP_MAX_REQUEUES=x direct "$jobs/sweep.sbatch" "$src/data/tiny.yaml" "$work/direct/no1.h5" \
  >/dev/null 2>"$work/bad1.err"
one_line "QBMAP_MAX_REQUEUES=x" $? "$work/bad1.err" "QBMAP_MAX_REQUEUES = 'x'; allowed:"
SLURM_ARRAY_TASK_ID=2 direct "$jobs/slices.sbatch" "$src/data/tiny.yaml" gamma_b "0.5 1" \
  "$work/direct" >/dev/null 2>"$work/bad2.err"
one_line "slices.sbatch, array task 2 of 2 VALUES" $? "$work/bad2.err" "allowed: --array=0-1"
printf 'output: !!str no3.h5\n' | cat "$src/data/tiny.yaml" - >"$work/direct/bad.yaml"
direct "$jobs/sweep.sbatch" "$work/direct/bad.yaml" >/dev/null 2>"$work/bad3.err"
one_line "sweep.sbatch, output: !!str" $? "$work/bad3.err" "bad.yaml:6: output: '!!str no3.h5'"
[ -z "$(find "$work/direct" -name 'no*')" ]
ok "bad input: no file written" $?
