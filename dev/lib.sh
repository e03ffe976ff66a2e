# Sourced by the scripts in dev/ and by ./x: small helpers, nothing runs here.

# Where the test services keep their files (Kafka's jars and data, logs).
SERVICES_DIR=${IMAGEGRAM_SERVICES_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/imagegram}
mkdir -p "$SERVICES_DIR"

say() { echo "== $*" >&2; }
fail() { echo "error: $*" >&2; exit 1; }

# Runs a command as root: directly when we are root, else through sudo.
if [ "$(id -u)" -eq 0 ]; then ROOT=(); else ROOT=(sudo); fi
as_root() {
  [ ${#ROOT[@]} -eq 0 ] || command -v sudo >/dev/null 2>&1 || fail "'$*' needs root and there is no sudo"
  "${ROOT[@]}" "$@"
}

# Installs the Debian packages named that are not installed yet. Elsewhere
# it names them and stops, since it cannot know the package manager's names.
need_packages() {
  local missing=() pkg
  if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    for pkg in "$@"; do echo "  $pkg" >&2; done
    fail "this is not Debian or Ubuntu: install the packages above (or your system's equivalents) and run again"
  fi
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing with apt-get: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

need_command() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed: $2"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits up to 60 s for 127.0.0.1:$1; shows the service's log if it never opens.
wait_port() {
  local port=$1 name=$2 log=$3 i
  for i in $(seq 1 300); do port_open "$port" && return 0; sleep 0.2; done
  echo "$name did not open port $port; the end of its log ($log):" >&2
  tail -n 40 "$log" >&2 || true
  return 1
}

# Starts a long-running service detached from this shell, its output to $log.
start_detached() {
  local log=$1; shift
  setsid nohup "$@" >"$log" 2>&1 </dev/null &
}
