# shellcheck shell=bash disable=SC2206
# Process helpers for the slurm tests (sourced by tests/slurm.sh and tests/slurm/cluster.sh):
# everything by PID, nothing by name.

# is process $1 running (not a zombie)?  Stopped daemons may linger as <defunct> until reaped.
running() {
  local s
  [ -n "$1" ] && read -r s 2>/dev/null <"/proc/$1/stat" || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ] && [ "${s%% *}" != X ]
}

# the running processes in the process trees rooted at PIDs... (roots included), one a line
tree() {
  local f p s queue=" $* " out=""
  local -a a
  local -A kids
  for f in /proc/[0-9]*/stat; do
    read -r s 2>/dev/null <"$f" || continue
    p=${f#/proc/}
    a=(${s##*) }) # state ppid ...
    kids[${a[1]}]+=" ${p%/stat}"
  done
  while [ -n "${queue// /}" ]; do
    a=($queue)
    p=${a[0]} queue=" ${a[*]:1} "
    [[ $out == *" $p "* ]] && continue
    out="$out $p "
    queue="$queue ${kids[$p]:-}"
  done
  for p in $out; do running "$p" && echo "$p"; done
}

# SIGKILL the trees rooted at PIDs... (again while something new appears), wait until gone
kill_tree() {
  local pids
  for _ in $(seq 50); do
    pids=$(tree "$@")
    [ -z "$pids" ] && return 0
    kill -KILL $pids 2>/dev/null
    sleep 0.1
  done
  return 1
}
