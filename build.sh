#!/usr/bin/env bash
# Pixel Ping build script.
#   ./build.sh            publish the native-AOT executable to dist/pixel-ping
#   ./build.sh test       publish, then run every test (unit, integration, end-to-end against dist/pixel-ping)
#   ./build.sh run [cfg]  publish if the sources changed, then run the server (default config: config.example.json)
#   ./build.sh clean      remove bin/, obj/ and dist/
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

publish() {
  dotnet publish src/PixelPing/PixelPing.csproj -c Release -r linux-x64 -o dist --nologo
  rm -f dist/*.dbg.tmp
  echo "built dist/pixel-ping ($(stat -c %s dist/pixel-ping) bytes)"
}

stale() {
  [ ! -x dist/pixel-ping ] && return 0
  [ -n "$(find src pixel.gif Directory.Build.props \( -name bin -o -name obj \) -prune -o -newer dist/pixel-ping -print -quit)" ]
}

verb=${1:-publish}
case "$verb" in
  publish|build)
    publish ;;
  test)
    shift || true
    publish
    dotnet test PixelPing.sln -c Release --nologo "$@" ;;
  run)
    config=${2:-config.example.json}
    if stale; then publish; fi
    exec dist/pixel-ping "$config" ;;
  clean)
    rm -rf dist src/*/bin src/*/obj tests/*/bin tests/*/obj ;;
  *)
    echo "usage: ./build.sh [publish|test|run [config.json]|clean]" >&2
    exit 2 ;;
esac
