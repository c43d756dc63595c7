# Starting the long-running servers setup needs (sourced by setup.sh after lib.sh).
#   clear_stale_pidfile FILE NAME   remove FILE unless its pid is a live NAME process
#   start_daemon LOG CMD...         start CMD in its own session; sets daemon_pid
#   wait_ready NAME SECONDS LOG CHECK...
#                                   poll CHECK each 0.5 s until it succeeds; die with the
#                                   log's tail when the daemon exits or SECONDS pass

# A machine restored from a snapshot keeps /run: a pid file naming a pid that another
# program now has makes dockerd refuse to start ("pid file found").
clear_stale_pidfile() {
  local file=$1 name=$2 pid
  [[ -f $file ]] || return 0
  pid=$(<"$file")
  if [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then return 0; fi
  rm -f "$file"
}

# `setsid -w` keeps $! the daemon's own pid (or its waiting parent), so "has it exited"
# is asked of that process, not of whatever name a process list shows before exec lands.
start_daemon() {
  local log=$1; shift
  setsid -w "$@" >>"$log" 2>&1 </dev/null &
  daemon_pid=$!
}

wait_ready() {
  local name=$1 seconds=$2 log=$3; shift 3
  local tries=$((seconds * 2))
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
      "$@" && return 0 # it may have handed over to a child and answered meanwhile
      echo "--- last lines of $log:" >&2; tail -n 20 "$log" >&2 || true
      die "$name exited before it answered"
    fi
    sleep 0.5
  done
  echo "--- last lines of $log:" >&2; tail -n 20 "$log" >&2 || true
  die "$name did not answer within $seconds s"
}
