#!/usr/bin/env bash
# Pixel Ping build script (build.ps1 offers the same verbs).
#   ./build.sh [publish]      publish the static native-AOT executable to dist/pixel-ping
#   ./build.sh test [args]    publish, then run every test (unit, integration, end-to-end against dist/pixel-ping);
#                             extra args go to `dotnet test` (e.g. --filter FullyQualifiedName~Tls)
#   ./build.sh test --unit    only the unit tests: no publish, nothing outside this process
#   ./build.sh run [config]   publish if the sources changed, then run the server (default config: config.example.json)
#   ./build.sh release        both architectures, then dist/release/pixel-ping-<version>-linux-{x64,arm64}.tar.gz
#                             (the executable, README.md, LICENSE, config.example.json, docs/, deploy/) and SHA256SUMS
#   ./build.sh prerequisites [verb]   only install (or name) the Debian packages that verb needs (default: test)
#   ./build.sh clean          remove bin/, obj/ and dist/
# Before the verb: --arch arm64 cross-compiles on x64 to dist/linux-arm64/pixel-ping, and its `test` runs the
# end-to-end tests against that executable under qemu-user; --dynamic links against the system's shared libraries.
# Missing Debian packages (.ci/debian-packages.txt) are installed when running as root or `sudo -n` works; otherwise
# the script stops with the apt-get command to run.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

case "$(uname -m)" in
  x86_64) host=x64 ;;
  aarch64) host=arm64 ;;
  *) host=$(uname -m) ;;
esac
arch=$host
linking=static
while [ $# -gt 0 ]; do
  case "$1" in
    --dynamic) linking=dynamic; shift ;;
    --arch) arch=${2:-}; shift 2 || true ;;
    --arch=*) arch=${1#--arch=}; shift ;;
    *) break ;;
  esac
done
case "$arch" in
  x64) triple=x86_64-linux-gnu ;;
  arm64) triple=aarch64-linux-gnu ;;
  *) echo "build.sh: --arch must be x64 or arm64" >&2; exit 2 ;;
esac
# The machine's own architecture publishes to dist/ (what the tests and the README use); another one to its own folder.
if [ "$arch" = "$host" ]; then out=dist; else out=dist/linux-$arch; fi
qemu=qemu-${triple%%-*}-static # runs the executable of another architecture (Debian's qemu-user-static)
if [ "$arch" != "$host" ] && [ "$linking" = dynamic ]; then
  echo "build.sh: --dynamic links against this machine's libraries: it cannot be combined with --arch $arch" >&2
  exit 2
fi

# The package groups of .ci/debian-packages.txt that a verb needs.
package_groups() {
  local groups=(build)
  case "$1" in
    test) groups+=(test) ;;
    release) groups+=(cross-arm64) ;;
    bench|ci) groups+=("$1") ;;
  esac
  if [ "$arch" != "$host" ]; then
    groups+=("cross-$arch")
    if [ "$1" = test ] || [ "$1" = run ]; then groups+=("test-$arch"); fi
  fi
  echo "${groups[@]}"
}

# Installs the Debian packages of the given groups that are missing (as root or through sudo -n, saying so in one
# line), or stops with one line naming the apt-get command.
install_packages() {
  command -v dpkg-query >/dev/null || return 0 # not Debian: the checks in check_prerequisites say what is missing
  local native group package want missing=() foreign=()
  native=$(dpkg --print-architecture)
  while read -r group package _; do
    [[ " $* " == *" $group "* ]] || continue
    [[ " ${missing[*]} " == *" $package "* ]] && continue
    # A package of this machine's architecture (or one for all), unless the list names another: libssl-dev:arm64
    # being installed does not make libssl-dev installed.
    want=$native
    [[ "$package" == *:* ]] && want=${package#*:}
    dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "${package%%:*}" 2>/dev/null | grep -qE "^installed ($want|all)\$" \
      && continue
    missing+=("$package")
    if [ "$want" != "$native" ] && ! dpkg --print-foreign-architectures | grep -qx "$want" \
      && [[ " ${foreign[*]} " != *" $want "* ]]; then
      foreign+=("$want")
    fi
  done < <(grep -vE '^[[:space:]]*(#|$)' .ci/debian-packages.txt)
  [ ${#missing[@]} -eq 0 ] && return 0

  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      local steps="" a
      for a in "${foreign[@]}"; do steps+="sudo dpkg --add-architecture $a && "; done
      echo "build.sh: missing Debian packages; install them with: ${steps}sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "build.sh: installing Debian packages: ${missing[*]}"
  local log; log=$(mktemp)
  local a
  for a in "${foreign[@]}"; do $sudo dpkg --add-architecture "$a"; done
  if ! { $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq \
      && $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
    } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build.sh: apt-get could not install: ${missing[*]}" >&2
    exit 1
  fi
  rm -f "$log"
}

# The .NET SDK, then the files the static link takes from the target's multiarch directory (another architecture's
# copies do not count: the link would fail deep inside CMake).
check_prerequisites() {
  local missing=()
  command -v dotnet >/dev/null || missing+=("the .NET 10 SDK (https://learn.microsoft.com/dotnet/core/install/linux-debian)")
  if command -v dotnet >/dev/null && ! dotnet --list-sdks | grep -q '^10\.'; then
    missing+=("the .NET 10 SDK (found only: $(dotnet --list-sdks | cut -d' ' -f1 | tr '\n' ' '))")
  fi
  command -v gcc >/dev/null || command -v clang >/dev/null || missing+=("a C toolchain: apt-get install gcc libc6-dev")
  if [ "$linking" = static ]; then
    local dev=""
    [ "$arch" != "$host" ] && dev=":$arch"
    [ -f /usr/include/openssl/ssl.h ] && [ -f "/usr/lib/$triple/libssl.a" ] \
      || missing+=("OpenSSL's static libraries for $triple in /usr/lib/$triple: apt-get install libssl-dev$dev")
    [ -f "/usr/lib/$triple/libz.a" ] || missing+=("zlib's static library in /usr/lib/$triple: apt-get install zlib1g-dev$dev")
    [ -f "/usr/lib/$triple/libc.a" ] || [ -f "/usr/$triple/lib/libc.a" ] \
      || missing+=("glibc's static library for $triple: apt-get install libc6-dev$dev")
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "build.sh: cannot build; install:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
}

prerequisites() {
  # shellcheck disable=SC2046 # the groups are words
  install_packages $(package_groups "$1")
  check_prerequisites
}

publish() {
  # The incremental build does not notice a switch between static and dynamic linking: start clean when it changes.
  if [ -f "$out/.linking" ] && [ "$(cat "$out/.linking")" != "$linking" ]; then
    rm -rf src/PixelPing/obj src/PixelPing/bin "$out"
  fi
  local flag=false
  [ "$linking" = dynamic ] && flag=true
  # The static link prints glibc's "getaddrinfo in statically linked applications" notes; they are expected (name
  # resolution needs only /etc/hosts and /etc/resolv.conf at run time) and filtered out here.
  if ! dotnet publish src/PixelPing/PixelPing.csproj -c Release -r "linux-$arch" -o "$out" --nologo -p:PixelPingDynamic=$flag \
    | { grep -vE 'in statically linked applications requires at runtime|/usr/bin/(aarch64-linux-gnu-)?ld(\.bfd)?: .*: in function' || true; }; then
    echo "build.sh: publish failed" >&2
    exit 1
  fi
  echo "$linking" > "$out/.linking"
  echo "built $out/pixel-ping (linux-$arch, $linking, $(stat -c %s "$out/pixel-ping") bytes; symbols in $out/pixel-ping.dbg)"
}

stale() {
  [ ! -x "$out/pixel-ping" ] && return 0
  [ "$(cat "$out/.linking" 2>/dev/null)" != "$linking" ] && return 0
  [ -n "$(find src eng pixel.gif Directory.Build.props \( -name bin -o -name obj \) -prune -o -newer "$out/pixel-ping" -print -quit)" ]
}

# dist/release/pixel-ping-<version>-linux-<arch>.tar.gz for both architectures, and SHA256SUMS. The archives are made
# reproducibly (sorted names, root owner, the last commit's time, gzip without a time stamp): see CONTRIBUTING.md.
release() {
  [ "$host" = x64 ] || { echo "build.sh: release cross-compiles arm64 from an x64 machine" >&2; exit 1; }
  local version epoch a dir
  version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' src/PixelPing/PixelPing.csproj)
  epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
  rm -rf src/PixelPing/obj src/PixelPing/bin dist
  "$0" --arch x64 publish
  "$0" --arch arm64 publish
  mkdir -p dist/release
  for a in x64 arm64; do
    dir=dist/release/pixel-ping-$version-linux-$a
    mkdir -p "$dir"
    if [ "$a" = x64 ]; then cp dist/pixel-ping "$dir/"; else cp "dist/linux-$a/pixel-ping" "$dir/"; fi
    cp README.md LICENSE config.example.json "$dir/"
    cp -R docs deploy "$dir/" # the README's links lead into docs/, and its systemd steps to deploy/
    find "$dir" -type d -exec chmod 755 {} +
    find "$dir" -type f -exec chmod 644 {} +
    chmod 755 "$dir/pixel-ping"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --format=gnu -C dist/release \
      -cf - "pixel-ping-$version-linux-$a" | gzip -9n > "$dir.tar.gz"
    rm -rf "$dir"
  done
  (cd dist/release && sha256sum -- *.tar.gz > SHA256SUMS && cat SHA256SUMS)
}

verb=${1:-publish}
case "$verb" in
  publish|build)
    prerequisites publish
    publish ;;
  test)
    shift
    if [ "${1:-}" = --unit ]; then
      # The unit tests alone: no publish and no outside program, only the tests not marked [Trait("Kind", "External")]
      # (those run the published executable, nginx, Prometheus, Chromium, qemu, PostgreSQL or Redis).
      shift
      exec dotnet test PixelPing.sln -c Release --nologo --filter "Kind!=External" "$@"
    fi
    prerequisites test
    publish
    if [ "$arch" = "$host" ]; then
      dotnet test PixelPing.sln -c Release --nologo "$@"
    else
      # The end-to-end tests marked [Trait("Emulated", "true")], against this executable under qemu-user: the tests
      # read the executable and the emulator that runs it from these two variables.
      PIXEL_PING_TEST_BINARY="$PWD/$out/pixel-ping" PIXEL_PING_TEST_RUNNER="$(command -v "$qemu")" \
        dotnet test PixelPing.sln -c Release --nologo --filter Emulated=true "$@"
    fi ;;
  run)
    config=${2:-config.example.json}
    prerequisites run
    if stale; then publish; fi
    if [ "$arch" = "$host" ]; then exec "$out/pixel-ping" "$config"; fi
    exec "$qemu" "$out/pixel-ping" "$config" ;;
  release)
    prerequisites release
    release ;;
  prerequisites)
    prerequisites "${2:-test}" ;;
  clean)
    rm -rf dist src/*/bin src/*/obj tests/*/bin tests/*/obj ;;
  *)
    echo "usage: ./build.sh [--arch x64|arm64] [--dynamic] [publish|test [dotnet test args]|run [config.json]|release|prerequisites [verb]|clean]" >&2
    exit 2 ;;
esac
