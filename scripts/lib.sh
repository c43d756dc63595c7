# Shared by the setup scripts: source it after setting log_prefix.
#   say MSG...       progress line
#   die MSG...       error line, exit 1
#   run LOG CMD...   run quietly, appending output to LOG; on failure show its tail and die
say() { printf '[%s] %s\n' "$log_prefix" "$*"; }
die() { printf '[%s] ERROR: %s\n' "$log_prefix" "$*" >&2; exit 1; }
run() {
  local log=$1; shift
  if ! "$@" >>"$log" 2>&1; then
    echo "--- last lines of $log:" >&2; tail -n 30 "$log" >&2
    die "failed: $*"
  fi
}
