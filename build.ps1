#!/usr/bin/env pwsh
# Pixel Ping build script for PowerShell 7 (the same verbs as build.sh).
#   ./build.ps1 [publish]      publish the static native-AOT executable to dist/pixel-ping
#   ./build.ps1 test [args]    publish, then run every test; extra args go to `dotnet test`
#   ./build.ps1 test --unit    only the unit tests: no publish, nothing outside this process
#   ./build.ps1 run [config]   publish if the sources changed, then run the server (default: config.example.json)
#   ./build.ps1 release        both architectures, then dist/release/pixel-ping-<version>-linux-{x64,arm64}.tar.gz
#                              and SHA256SUMS
#   ./build.ps1 prerequisites [verb]   only install (or name) the Debian packages that verb needs
#   ./build.ps1 clean          remove bin/, obj/ and dist/
# -Arch arm64 cross-compiles on x64 to dist/linux-arm64/pixel-ping (its test verb runs the end-to-end tests against it
# under qemu-user); -Dynamic links against the system's shared libraries instead of statically. The Debian packages
# (.ci/debian-packages.txt) and the release archives are build.sh's: this script calls it for those.
param(
    [Parameter(Position = 0)] [string] $Verb = 'publish',
    [switch] $Dynamic,
    [ValidateSet('x64', 'arm64')] [string] $Arch,
    [Parameter(Position = 1, ValueFromRemainingArguments = $true)] [string[]] $Rest = @()
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'; $env:DOTNET_NOLOGO = '1'; $env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'
$linking = if ($Dynamic) { 'dynamic' } else { 'static' }
$hostArch = if ([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture -eq 'Arm64') { 'arm64' } else { 'x64' }
if (-not $Arch) { $Arch = $hostArch }
# The machine's own architecture publishes to dist/ (what the tests and the README use); another one to its own folder.
$out = if ($Arch -eq $hostArch) { 'dist' } else { "dist/linux-$Arch" }
$qemu = if ($Arch -eq 'arm64') { 'qemu-aarch64-static' } else { 'qemu-x86_64-static' }
$options = @('--arch', $Arch) + $(if ($Dynamic) { @('--dynamic') } else { @() })

function Invoke-BuildSh([string[]] $Arguments) {
    & bash ./build.sh @options @Arguments
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}

function Invoke-Publish {
    # The incremental build does not notice a switch between static and dynamic linking: start clean when it changes.
    if ((Test-Path "$out/.linking") -and ((Get-Content "$out/.linking") -ne $linking)) {
        Remove-Item -Recurse -Force src/PixelPing/obj, src/PixelPing/bin, $out -ErrorAction SilentlyContinue
    }
    $flag = if ($linking -eq 'dynamic') { 'true' } else { 'false' }
    dotnet publish src/PixelPing/PixelPing.csproj -c Release -r "linux-$Arch" -o $out --nologo "-p:PixelPingDynamic=$flag" |
        Where-Object { $_ -notmatch 'in statically linked applications requires at runtime|/usr/bin/(aarch64-linux-gnu-)?ld(\.bfd)?: .*: in function' }
    if ($LASTEXITCODE -ne 0) { [Console]::Error.WriteLine('build.ps1: publish failed'); exit 1 }
    Set-Content -Path "$out/.linking" -Value $linking -NoNewline
    Write-Output "built $out/pixel-ping (linux-$Arch, $linking, $((Get-Item "$out/pixel-ping").Length) bytes; symbols in $out/pixel-ping.dbg)"
}

function Test-Stale {
    if (-not (Test-Path "$out/pixel-ping")) { return $true }
    if ((Get-Content "$out/.linking" -ErrorAction SilentlyContinue) -ne $linking) { return $true }
    $built = (Get-Item "$out/pixel-ping").LastWriteTimeUtc
    $sources = @(Get-ChildItem -Recurse -File src, eng | Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' }) +
        @(Get-Item pixel.gif, Directory.Build.props)
    return [bool]($sources | Where-Object { $_.LastWriteTimeUtc -gt $built } | Select-Object -First 1)
}

switch ($Verb) {
    { $_ -in 'publish', 'build' } {
        Invoke-BuildSh 'prerequisites', 'publish'
        Invoke-Publish
    }
    'test' {
        if ($Rest.Count -gt 0 -and $Rest[0] -eq '--unit') {
            # As build.sh's: the tests not marked [Trait("Kind", "External")], without publishing.
            dotnet test PixelPing.sln -c Release --nologo --filter 'Kind!=External' @($Rest | Select-Object -Skip 1)
            exit $LASTEXITCODE
        }
        Invoke-BuildSh 'prerequisites', 'test'
        Invoke-Publish
        if ($Arch -eq $hostArch) {
            dotnet test PixelPing.sln -c Release --nologo @Rest
        } else {
            # The same run as build.sh's: the end-to-end tests against this executable, under qemu-user.
            $env:PIXEL_PING_TEST_BINARY = (Resolve-Path "$out/pixel-ping").Path
            $env:PIXEL_PING_TEST_RUNNER = (Get-Command $qemu).Source
            dotnet test PixelPing.sln -c Release --nologo --filter 'Emulated=true' @Rest
        }
        exit $LASTEXITCODE
    }
    'run' {
        $config = if ($Rest.Count -gt 0) { $Rest[0] } else { 'config.example.json' }
        Invoke-BuildSh 'prerequisites', 'run'
        if (Test-Stale) { Invoke-Publish }
        if ($Arch -eq $hostArch) { & "./$out/pixel-ping" $config } else { & $qemu "./$out/pixel-ping" $config }
        exit $LASTEXITCODE
    }
    'release' { Invoke-BuildSh 'release' }
    'prerequisites' { Invoke-BuildSh (@('prerequisites') + $Rest) }
    'clean' {
        Remove-Item -Recurse -Force dist, src/*/bin, src/*/obj, tests/*/bin, tests/*/obj -ErrorAction SilentlyContinue
    }
    default {
        [Console]::Error.WriteLine('usage: ./build.ps1 [publish|test [dotnet test args]|run [config.json]|release|prerequisites [verb]|clean] [-Arch x64|arm64] [-Dynamic]')
        exit 2
    }
}
