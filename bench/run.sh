#!/usr/bin/env bash
# Pixel Ping benchmark: pixel-ping against nginx's empty_gif (1 worker, access log on) in the same run, each scenario
# on a freshly started server pinned to one CPU, wrk pinned to another. Prints one table; see bench/README.md.
#
#   bench/run.sh                 all scenarios, 2 runs each, 10 s per run
#   DURATION=5 RUNS=1 bench/run.sh
#   SCENARIOS="keepalive close" bench/run.sh
#   PIXELS="before=/tmp/old/pixel-ping pixel=dist/pixel-ping filtered=dist/pixel-ping:bench/filters-all.json" bench/run.sh
#
# Scenarios: keepalive (50 connections, one key), random (50 connections, 100k random keys), c1000 (1000
# connections), close (Connection: close, 50 connections), scale (keep-alive on 2 server CPUs; wrk shares CPU 0),
# browser (keepalive with a browser's User-Agent, Referer and Accept headers, as the hit filters see real traffic),
# pipelined (h2load --h1 -m 16: 16 requests in flight per connection), close2 and tls2 (Connection: close over plain
# HTTP and over HTTPS with the server free to use both CPUs: the spread column is the busiest server thread's share of
# the server's CPU, from /proc/PID/task/*/stat), tls (Connection: close over HTTPS on one server CPU: returning clients,
# since wrk keeps each connection's TLS session and resumes it; a row whose server did not resume says so in its last
# column), full12 and full13 (`openssl s_time -new`: a new full handshake per connection, TLS 1.2 and TLS 1.3, with
# 4 clients on the wrk CPU; the req columns count handshakes, each with one GET). nginx's TLS is configured as its own
# default has been since 1.23.4 (ssl_protocols TLSv1.2 TLSv1.3; Debian 12's nginx 1.22 leaves TLS 1.3 off), with its
# default session tickets, so both servers offer the same protocols and the same resumption. The floor (bench/floor.c, built here with gcc: an epoll loop that
# parses and counts nothing) runs next to nginx wherever it can (not over TLS); "floor x" is req/CPU-s over its.
# PIXELS: the pixel-ping variants measured next to nginx, as name=executable[:config fragment], the fragment's keys
# added to the bench config (default: pixel=dist/pixel-ping). A variant whose config sets "status" (as
# bench/status.json does) is scraped at /metrics once a second during its runs, as Prometheus would:
#   PIXELS="before=/tmp/old/pixel-ping pixel=dist/pixel-ping:bench/status.json" bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
RUNS=${RUNS:-2}
SCENARIOS=${SCENARIOS:-"keepalive random c1000 close pipelined scale close2 tls full12 full13 tls2"}
PIXELS=${PIXELS:-"pixel=dist/pixel-ping"}
SERVER_CPU=${SERVER_CPU:-1}
WRK_CPU=${WRK_CPU:-0}
out=$(mktemp -d /tmp/pixel-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

./build.sh prerequisites bench # wrk, nginx, python3, taskset: the bench group of .ci/debian-packages.txt
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v h2load >/dev/null || ./build.sh prerequisites bench
gcc -O2 -o "$out/floor" bench/floor.c
# A certificate for the HTTPS scenario (the clients do not verify it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null
echo '{ "sslkey": "'"$out/key.pem"'", "sslcert": "'"$out/cert.pem"'" }' > "$out/tls.json"
[ -x dist/pixel-ping ] || ./build.sh >/dev/null
[ "$(nproc)" -ge 2 ] || { echo "bench/run.sh: needs at least 2 CPUs (server and wrk on separate cores)" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }       # utime+stime of a process, in clock ticks
hz=$(getconf CLK_TCK)
kib() { awk -v f="$2:" '$1==f{print $2}' "/proc/$1/status"; }
ms_now() { date +%s%N | cut -c1-13; }
# Per thread: utime+stime, read after the ")" that ends the thread's name (names such as "event loop 0" hold spaces).
thread_ticks() { for t in /proc/"$1"/task/*; do echo "${t##*/} $(sed 's/.*) //' "$t/stat" | awk '{print $12+$13}')"; done; }

# The endpoint receiver (one for the whole run).
python3 bench/receiver.py "$out/receiver.port" & 
for _ in $(seq 100); do [ -s "$out/receiver.port" ] && break; sleep 0.05; done
receiver_port=$(cat "$out/receiver.port")
receiver_total() { curl -s "http://127.0.0.1:$receiver_port/total"; }

start_pixel() { # $1 cpus, $2 port, $3 executable, $4 config fragment or "", $5 tls fragment or "" -> sets pid, start_ms
  python3 - "$out/pixel.json" "$2" "$receiver_port" "$4" "$5" <<'PY'
import json, sys
path, port, receiver, fragment, tls = sys.argv[1:6]
config = {"host": "127.0.0.1", "port": int(port), "interval": 5, "log": False, "maxconnections": 20000,
          "endpoint": f"http://127.0.0.1:{receiver}/hits"}
for extra in (fragment, tls):
    if extra:
        config.update(json.load(open(extra)))
json.dump(config, open(path, "w"))
PY
  # The server's output goes to files through a wrapper shell so that its shutdown line can be read.
  read -r start_ms pid < <(python3 bench/first-pixel.py "$2" ${5:+--tls} -- taskset -c "$1" \
    sh -c "exec $3 $out/pixel.json > $out/pixel.out 2> $out/pixel.err")
  work_pids=$pid
}

start_floor() { # $1 cpus, $2 port -> sets pid, work_pids, start_ms
  read -r start_ms pid < <(python3 bench/first-pixel.py "$2" -- taskset -c "$1" "$out/floor" "$2")
  work_pids=$pid
}

start_nginx() { # $1 cpus, $2 port, $3 "tls" or "" -> sets pid (master), work_pids (master+worker), start_ms
  mkdir -p "$out/nginx"
  local ssl="" listen_tls=""
  if [ -n "${3:-}" ]; then
    # nginx's default since 1.23.4; 1.22 (Debian 12) would offer only TLS 1.2 and 1.1.
    ssl="ssl_certificate $out/cert.pem; ssl_certificate_key $out/key.pem; ssl_protocols TLSv1.2 TLSv1.3;"
    listen_tls=" ssl"
  fi
  cat > "$out/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log;
events { worker_connections 20000; }
worker_rlimit_nofile 40000;
http {
  access_log $out/nginx/access.log;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$2 backlog=4096$listen_tls;
    $ssl
    location = /pixel.gif { empty_gif; }
  }
}
CONF
  read -r start_ms pid < <(python3 bench/first-pixel.py "$2" ${3:+--tls} -- taskset -c "$1" "$NGINX" -c "$out/nginx/nginx.conf" -p "$out/nginx")
  work_pids="$pid $(pgrep -P "$pid" | tr '\n' ' ')"
}

resumes() { # $1 port -> "" when a second connection resumes the first one's TLS session, "no-resumption" otherwise
  local session=$out/session.pem
  rm -f "$session"
  # TLS 1.3 tickets arrive after the handshake: the GET's answer is read, so the client has them before it saves.
  printf 'GET /pixel.gif?key=probe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
    openssl s_client -connect "127.0.0.1:$1" -sess_out "$session" -ign_eof >/dev/null 2>&1 || true
  if printf 'GET /pixel.gif?key=probe HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' |
    openssl s_client -connect "127.0.0.1:$1" -sess_in "$session" -ign_eof 2>/dev/null | grep -aq '^Reused,'; then
    echo ""
  else
    echo "no-resumption"
  fi
}

stop_server() { # the server is not this shell's child (first-pixel.py started it): wait for its /proc entry to go
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 600); do [ -e "/proc/$pid" ] || return 0; sleep 0.05; done
  echo "server $pid did not stop" >&2
}

run_one() { # $1 server, $2 scenario, $3 run -> appends a row to $out/rows
  local server=$1 scenario=$2 cpus=$SERVER_CPU conns=50 extra=() script=() scheme=http tls=""
  case $scenario in
    random) script=(-s bench/random-keys.lua) ;;
    c1000) conns=1000 ;;
    close) extra=(-H "Connection: close") ;;
    scale) cpus="0,1" ;;
    close2) cpus="0,1"; extra=(-H "Connection: close") ;;
    tls2) cpus="0,1"; extra=(-H "Connection: close"); scheme=https; tls=$out/tls.json ;;
    tls) extra=(-H "Connection: close"); scheme=https; tls=$out/tls.json ;;
    full12|full13) scheme=https; tls=$out/tls.json ;;
    browser) extra=(-H "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
                    -H "Referer: https://www.example.com/news/2024/a-story-about-something"
                    -H "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
                    -H "Accept-Language: en-US,en;q=0.9" -H "Sec-Fetch-Dest: image") ;;
  esac
  local port; port=$(free_port)
  ulimit -n 65536 2>/dev/null || true
  if [ "$server" = nginx ]; then
    start_nginx "$cpus" "$port" "$tls"
  elif [ "$server" = floor ]; then
    start_floor "$cpus" "$port"
  else
    local spec=${pixel_spec[$server]}
    start_pixel "$cpus" "$port" "${spec%%:*}" "$([ "$spec" != "${spec#*:}" ] && echo "${spec#*:}")" "$tls"
  fi
  sleep 0.5
  local idle_rss; idle_rss=$(kib "$pid" VmRSS)
  local before=0 p
  for p in $work_pids; do before=$(( before + $(ticks "$p") )); done
  thread_ticks "$pid" > "$out/threads.before"
  local scraper="" status=""
  [ "$server" != nginx ] && [ "$server" != floor ] && status=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("status", ""))' "$out/pixel.json")
  if [ -n "$status" ]; then
    (while sleep 1; do curl -s -o /dev/null "http://$status/metrics"; done) &
    scraper=$!
  fi
  local t0; t0=$(ms_now)
  local resumed=""
  if [ "$scheme" = https ]; then resumed=$(resumes "$port"); fi
  if [ "$scenario" = full12 ] || [ "$scenario" = full13 ]; then
    # Four sequential clients, each a new full handshake and one GET per connection; their counts add up.
    local protocol=-tls1_2 c clients=()
    [ "$scenario" = full13 ] && protocol=-tls1_3
    for c in 1 2 3 4; do
      taskset -c "$WRK_CPU" openssl s_time -connect "127.0.0.1:$port" -new "$protocol" -www "/pixel.gif?key=bench" \
        -time "$DURATION" > "$out/s_time.$c" 2>&1 &
      clients+=($!)
    done
    wait "${clients[@]}"
    cat "$out"/s_time.* | awk '/connections in .* real seconds/{n+=$1} END{print n+0 " requests in"}' > "$out/wrk.txt"
  elif [ "$scenario" = pipelined ]; then
    # h2load prints no percentiles; its request count is rewritten into wrk's words for the parsing below.
    taskset -c "$WRK_CPU" h2load --h1 -m 16 -c "$conns" -t 1 -D "$DURATION" "http://127.0.0.1:$port/pixel.gif?key=bench" > "$out/h2load.txt" 2>&1
    awk '/^requests:/{print $8 " requests in"}' "$out/h2load.txt" > "$out/wrk.txt"
  else
    taskset -c "$WRK_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" --latency "${script[@]}" "${extra[@]}" \
      "$scheme://127.0.0.1:$port/pixel.gif?key=bench" > "$out/wrk.txt" 2>&1
  fi
  local wall=$(( $(ms_now) - t0 ))
  if [ -n "$scraper" ]; then kill "$scraper"; wait "$scraper" 2>/dev/null || true; fi
  local after=0
  for p in $work_pids; do after=$(( after + $(ticks "$p") )); done
  thread_ticks "$pid" > "$out/threads.after"
  # The busiest thread's share of the server's CPU during the run (for a single-threaded server, 100%).
  local spread; spread=$(awk 'NR==FNR{b[$1]=$2; next} {d=$2-b[$1]; t+=d; if(d>m)m=d} END{printf "%.0f", (t > 0 ? 100 * m / t : 0)}' \
    "$out/threads.before" "$out/threads.after")
  local peak=0 v
  for p in $work_pids; do v=$(kib "$p" VmHWM); [ "$v" -gt "$peak" ] && peak=$v; done
  local total_before; total_before=$(receiver_total)
  stop_server "$server"
  local requests; requests=$(awk '/requests in/{print $1}' "$out/wrk.txt")
  local errors; errors=$(awk '/Socket errors/{print}' "$out/wrk.txt" | tr -s ' ')
  local non2xx; non2xx=$(awk '/Non-2xx/{print $5}' "$out/wrk.txt")
  local p50 p99
  p50=$(awk '$1=="50%"{print $2}' "$out/wrk.txt"); p99=$(awk '$1=="99%"{print $2}' "$out/wrk.txt")
  local cpu_s; cpu_s=$(awk -v a="$after" -v b="$before" -v hz="$hz" 'BEGIN{printf "%.2f", (a-b)/hz}')
  local delivered="-"
  if [ "$server" != nginx ] && [ "$server" != floor ]; then
    # The final flush on SIGTERM sends what is left; served comes from the server's own shutdown line.
    local served; served=$(grep -oE 'served [0-9]+ pixels' "$out/pixel.out" | grep -oE '[0-9]+' || echo "?")
    for _ in $(seq 100); do [ "$(receiver_total)" != "$total_before" ] || [ "$served" = 0 ] && break; sleep 0.05; done
    local got=$(( $(receiver_total) - total_before_run ))
    total_before_run=$(receiver_total)
    delivered="$got/$served"
  fi
  echo "$server $scenario $run $requests $wall $cpu_s ${p50:--} ${p99:--} $idle_rss $peak $start_ms $delivered $spread ${non2xx:-0} ${errors:+errors} $resumed" >> "$out/rows"
}

declare -A pixel_spec
pixel_names=()
for variant in $PIXELS; do
  pixel_spec[${variant%%=*}]=${variant#*=}
  pixel_names+=("${variant%%=*}")
  exe=${variant#*=}; exe=${exe%%:*}
  [ -x "$exe" ] || { echo "bench/run.sh: $exe is not an executable (PIXELS=$PIXELS)" >&2; exit 1; }
done

total_before_run=$(receiver_total)
for scenario in $SCENARIOS; do
  for run in $(seq "$RUNS"); do
    peers=(nginx floor)
    case $scenario in tls*|full*) peers=(nginx) ;; esac   # the floor speaks no TLS
    for server in "${peers[@]}" "${pixel_names[@]}"; do
      run_one "$server" "$scenario" "$run"
    done
  done
done

mkdir -p bench/out && cp "$out/rows" bench/out/rows.txt   # the raw rows, kept for a second look
python3 - "$out/rows" "$DURATION" "${pixel_names[*]}" <<'PY'
import statistics, sys
servers = ["nginx", "floor"] + sys.argv[3].split()
rows = [l.split() for l in open(sys.argv[1])]
def ms(v):
    v = v.strip()
    for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if v.endswith(unit):
            return float(v[:-len(unit)]) * f
    return float("nan")
by = {}
for r in rows:
    server, scen, run, req, wall, cpu, p50, p99, idle, peak, start, delivered, spread = r[:13]
    rps = int(req) / (int(wall) / 1000)
    per_cpu = int(req) / float(cpu) if float(cpu) > 0 else float("nan")
    by.setdefault((scen, server), []).append((rps, per_cpu, ms(p50), ms(p99), int(idle), int(peak), float(start), float(spread), delivered, r[13], " ".join(r[14:])))
print(f"{'scenario':10} {'server':8} {'req/s':>9} {'req/CPU-s':>10} {'ratio':>6} {'floor x':>7} {'p50 ms':>7} {'p99 ms':>7} {'idle MB':>8} {'peak MB':>8} {'start ms':>8} {'spread':>6}  delivered/served  non2xx")
for scen in dict.fromkeys(s for s, _ in by):
    med = {}
    for server in servers:
        v = by.get((scen, server))
        if not v:
            continue
        m = [statistics.median(x[i] for x in v) for i in range(8)]
        med[server] = m
    for server in servers:
        if server not in med:
            continue
        m = med[server]
        ratio = m[1] / med["nginx"][1] if "nginx" in med else float("nan")
        floor = m[1] / med["floor"][1] if "floor" in med else float("nan")
        v = by[(scen, server)]
        print(f"{scen:10} {server:8} {m[0]:9.0f} {m[1]:10.0f} {ratio:6.2f} {floor:7.2f} {m[2]:7.2f} {m[3]:7.2f} {m[4]/1024:8.1f} {m[5]/1024:8.1f} {m[6]:8.0f} {m[7]:5.0f}%  {','.join(x[8] for x in v):16}  {','.join(x[9] for x in v)} {v[0][10]}")
print(f"(medians of the runs; {sys.argv[2]} s per run; ratio = req per server CPU-second / nginx's, floor x = / the floor's;")
print(" spread = the busiest server thread's share of the server's CPU; start = exec to first pixel)")
PY
