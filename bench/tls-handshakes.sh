#!/usr/bin/env bash
# Full TLS handshakes per second against dist/pixel-ping, with the server pinned to one core.
#
#   bench/tls-handshakes.sh [seconds]      (default 10 s per run)
#
# For each key type (EC P-256, RSA 2048) and protocol (TLS 1.3, TLS 1.2) it starts the server on CPU 0 and runs
# `openssl s_time -new` (a new full handshake per connection, no resumption) on CPU 1, then prints the handshakes per
# wall-clock second and per CPU second the server used. s_time is one sequential client, so the first figure is bound
# by the client and the round trips as much as by the server; the second is the server's own cost per handshake, so
# what one fully busy core would do. `openssl s_server` with the same key runs the same way as a reference.
# Builds dist/pixel-ping first when the sources are newer. Needs openssl and taskset (util-linux).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}

if [ ! -x dist/pixel-ping ] || [ -n "$(find src pixel.gif Directory.Build.props \( -name bin -o -name obj \) -prune -o -newer dist/pixel-ping -print -quit)" ]; then
  ./build.sh >/dev/null
fi

cores=$(nproc)
server_cpu=0
client_cpu=$(( cores > 1 ? 1 : 0 ))
work=$(mktemp -d)
pid=""
port=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

make_cert() { # name, then the key options for openssl req
  local name=$1
  shift
  openssl req -x509 "$@" -nodes -keyout "$work/$name.key" -out "$work/$name.pem" -days 2 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
}
make_cert ec -newkey ec -pkeyopt ec_paramgen_curve:P-256
make_cert rsa -newkey rsa:2048

# CPU time (user + system, in clock ticks) the process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

start_server() { # server (pixel-ping or openssl), key type; sets pid and port
  local server=$1 key=$2
  port=""
  if [ "$server" = openssl ]; then
    # The reference: OpenSSL's own server with the same key, on the same core.
    port=$(( 20000 + RANDOM % 20000 ))
    taskset -c "$server_cpu" openssl s_server -accept "127.0.0.1:$port" -cert "$work/$key.pem" -key "$work/$key.key" \
      -quiet -naccept 100000000 >/dev/null 2>"$work/err.log" &
    pid=$!
    sleep 0.3
    return
  fi

  printf '{ "host": "127.0.0.1", "port": 0, "interval": 3600, "log": false, "sslkey": "%s", "sslcert": "%s" }\n' \
    "$work/$key.key" "$work/$key.pem" >"$work/config.json"
  taskset -c "$server_cpu" dist/pixel-ping "$work/config.json" >"$work/out.log" 2>"$work/err.log" &
  pid=$!
  for _ in $(seq 100); do
    port=$(grep -oE 'listening on https://[^ ]*:[0-9]+/' "$work/out.log" 2>/dev/null | grep -oE '[0-9]+/$' | tr -d / || true)
    if [ -n "$port" ]; then return; fi
    sleep 0.05
  done
  echo "the server did not start:" >&2
  cat "$work/err.log" >&2
  exit 1
}

run() { # server, key type, s_time protocol flag
  local server=$1 key=$2 protocol=$3
  local before after hz result connections wall start
  start_server "$server" "$key"
  # A short warm-up, so one-time costs (first handshake, JIT-free but cold caches) do not count.
  taskset -c "$client_cpu" openssl s_time -connect "127.0.0.1:$port" -new "-$protocol" -time 1 >/dev/null 2>&1 || true
  hz=$(getconf CLK_TCK)
  before=$(cpu_ticks "$pid")
  start=$(date +%s.%N)
  # "12345 connections in 10 real seconds, ..." counts whole seconds only: the wall time is measured here.
  result=$(taskset -c "$client_cpu" openssl s_time -connect "127.0.0.1:$port" -new "-$protocol" -time "$seconds" 2>&1 |
    grep "connections in .* real seconds" | head -1)
  wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  after=$(cpu_ticks "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  connections=$(echo "$result" | awk '{ print $1 }')
  awk -v s="$server" -v k="$key" -v p="$protocol" -v n="$connections" -v w="$wall" -v t="$((after - before))" -v hz="$hz" 'BEGIN {
    cpu = t / hz
    printf "%-10s %-3s %-6s %6d handshakes in %5.2f s = %5.0f/s; server CPU %5.2f s (%3.0f%% of its core) = %5.0f handshakes per server CPU second\n",
      s, k, p, n, w, n / w, cpu, 100 * cpu / w, (cpu > 0 ? n / cpu : 0)
  }'
}

echo "pixel-ping $(dist/pixel-ping --version | awk '{ print $4 }'), $(stat -c %s dist/pixel-ping) bytes; $(openssl version | cut -d' ' -f1-2); server on CPU $server_cpu, s_time on CPU $client_cpu of $cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for key in ec rsa; do
  for protocol in tls1_3 tls1_2; do
    for server in pixel-ping openssl; do
      run "$server" "$key" "$protocol"
    done
  done
done
