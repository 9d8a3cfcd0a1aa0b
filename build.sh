#!/usr/bin/env bash
# Pixel Ping build script (build.ps1 offers the same verbs).
#   ./build.sh [publish]      publish the static native-AOT executable to dist/pixel-ping
#   ./build.sh test [args]    publish, then run every test (unit, integration, end-to-end against dist/pixel-ping);
#                             extra args go to `dotnet test` (e.g. --filter FullyQualifiedName~Tls)
#   ./build.sh run [config]   publish if the sources changed, then run the server (default config: config.example.json)
#   ./build.sh clean          remove bin/, obj/ and dist/
# Add --dynamic before the verb to link against the system's shared libraries instead of statically.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

linking=static
if [ "${1:-}" = "--dynamic" ]; then linking=dynamic; shift; fi

missing=()
check_prerequisites() {
  command -v dotnet >/dev/null || missing+=("the .NET 10 SDK (https://learn.microsoft.com/dotnet/core/install/linux-debian)")
  if command -v dotnet >/dev/null && ! dotnet --list-sdks | grep -q '^10\.'; then
    missing+=("the .NET 10 SDK (found only: $(dotnet --list-sdks | cut -d' ' -f1 | tr '\n' ' '))")
  fi
  command -v gcc >/dev/null || command -v clang >/dev/null || missing+=("a C toolchain: apt-get install gcc libc6-dev")
  if [ "$linking" = static ]; then
    [ -f /usr/include/openssl/ssl.h ] && compgen -G "/usr/lib/*/libssl.a" >/dev/null || missing+=("OpenSSL static libraries: apt-get install libssl-dev")
    compgen -G "/usr/lib/*/libz.a" >/dev/null || missing+=("zlib static library: apt-get install zlib1g-dev")
    compgen -G "/usr/lib/*/libc.a" >/dev/null || missing+=("glibc static library: apt-get install libc6-dev")
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo "build.sh: cannot build; install:" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
}

publish() {
  check_prerequisites
  # The incremental build does not notice a switch between static and dynamic linking: start clean when it changes.
  if [ -f dist/.linking ] && [ "$(cat dist/.linking)" != "$linking" ]; then
    rm -rf src/PixelPing/obj src/PixelPing/bin dist
  fi
  local flag=false
  [ "$linking" = dynamic ] && flag=true
  # The static link prints glibc's "getaddrinfo in statically linked applications" notes; they are expected (name
  # resolution needs only /etc/hosts and /etc/resolv.conf at run time) and filtered out here.
  if ! dotnet publish src/PixelPing/PixelPing.csproj -c Release -r linux-x64 -o dist --nologo -p:PixelPingDynamic=$flag \
    | { grep -vE 'in statically linked applications requires at runtime|/usr/bin/ld(\.bfd)?: .*: in function' || true; }; then
    echo "build.sh: publish failed" >&2
    exit 1
  fi
  echo "$linking" > dist/.linking
  echo "built dist/pixel-ping ($linking, $(stat -c %s dist/pixel-ping) bytes; symbols in dist/pixel-ping.dbg)"
}

stale() {
  [ ! -x dist/pixel-ping ] && return 0
  [ "$(cat dist/.linking 2>/dev/null)" != "$linking" ] && return 0
  [ -n "$(find src pixel.gif Directory.Build.props \( -name bin -o -name obj \) -prune -o -newer dist/pixel-ping -print -quit)" ]
}

verb=${1:-publish}
case "$verb" in
  publish|build)
    publish ;;
  test)
    shift
    publish
    dotnet test PixelPing.sln -c Release --nologo "$@" ;;
  run)
    config=${2:-config.example.json}
    if stale; then publish; fi
    exec dist/pixel-ping "$config" ;;
  clean)
    rm -rf dist src/*/bin src/*/obj tests/*/bin tests/*/obj ;;
  *)
    echo "usage: ./build.sh [--dynamic] [publish|test [dotnet test args]|run [config.json]|clean]" >&2
    exit 2 ;;
esac
