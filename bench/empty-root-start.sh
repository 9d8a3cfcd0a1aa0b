#!/usr/bin/env bash
# Exec to first served pixel, and idle RSS, of dist/pixel-ping in an empty root (what the FROM scratch image holds:
# the executable, a config, /etc/hosts and /etc/resolv.conf), run under chroot as user 10001. Needs root.
#   bench/empty-root-start.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[ -x dist/pixel-ping ] || ./build.sh >/dev/null
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root/etc/pixel-ping"
cp dist/pixel-ping "$root/pixel-ping"
printf '127.0.0.1 localhost\n' > "$root/etc/hosts"
printf 'nameserver 127.0.0.1\n' > "$root/etc/resolv.conf"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '{ "host": "127.0.0.1", "port": %s, "log": false }\n' "$port" > "$root/etc/pixel-ping/config.json"
chmod -R a+rX "$root"
times=()
for _ in $(seq "$runs"); do
  read -r ms pid < <(python3 bench/first-pixel.py "$port" -- chroot --userspec=10001:10001 "$root" /pixel-ping /etc/pixel-ping/config.json)
  times+=("$ms")
  sleep 0.5
  rss=$(awk '$1=="VmRSS:"{print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.05; done
done
printf 'exec to first pixel in the empty root (ms): %s\n' "${times[*]}"
printf 'median: %s ms; idle VmRSS after the last start: %s KiB; executable: %s bytes\n' \
  "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')" "$rss" "$(stat -c %s dist/pixel-ping)"
