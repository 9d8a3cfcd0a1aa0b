#!/usr/bin/env pwsh
# Pixel Ping build script for PowerShell 7 (the same verbs as build.sh).
#   ./build.ps1 [publish]      publish the static native-AOT executable to dist/pixel-ping
#   ./build.ps1 test [args]    publish, then run every test; extra args go to `dotnet test`
#   ./build.ps1 run [config]   publish if the sources changed, then run the server (default: config.example.json)
#   ./build.ps1 clean          remove bin/, obj/ and dist/
# Add -Dynamic to link against the system's shared libraries instead of statically.
param(
    [Parameter(Position = 0)] [string] $Verb = 'publish',
    [switch] $Dynamic,
    [Parameter(Position = 1, ValueFromRemainingArguments = $true)] [string[]] $Rest = @()
)
$ErrorActionPreference = 'Stop'
Set-Location $PSScriptRoot
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'; $env:DOTNET_NOLOGO = '1'; $env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'
$linking = if ($Dynamic) { 'dynamic' } else { 'static' }

function Test-Prerequisites {
    $missing = @()
    if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) {
        $missing += 'the .NET 10 SDK (https://learn.microsoft.com/dotnet/core/install/linux-debian)'
    } elseif (-not (dotnet --list-sdks | Where-Object { $_ -like '10.*' })) {
        $missing += 'the .NET 10 SDK'
    }
    if (-not ((Get-Command gcc -ErrorAction SilentlyContinue) -or (Get-Command clang -ErrorAction SilentlyContinue))) {
        $missing += 'a C toolchain: apt-get install gcc libc6-dev'
    }
    if ($linking -eq 'static') {
        if (-not ((Test-Path /usr/include/openssl/ssl.h) -and (Get-ChildItem /usr/lib/*/libssl.a -ErrorAction SilentlyContinue))) {
            $missing += 'OpenSSL static libraries: apt-get install libssl-dev'
        }
        if (-not (Get-ChildItem /usr/lib/*/libz.a -ErrorAction SilentlyContinue)) { $missing += 'zlib static library: apt-get install zlib1g-dev' }
        if (-not (Get-ChildItem /usr/lib/*/libc.a -ErrorAction SilentlyContinue)) { $missing += 'glibc static library: apt-get install libc6-dev' }
    }
    if ($missing.Count -gt 0) {
        [Console]::Error.WriteLine('build.ps1: cannot build; install:')
        $missing | ForEach-Object { [Console]::Error.WriteLine("  - $_") }
        exit 1
    }
}

function Invoke-Publish {
    Test-Prerequisites
    # The incremental build does not notice a switch between static and dynamic linking: start clean when it changes.
    if ((Test-Path dist/.linking) -and ((Get-Content dist/.linking) -ne $linking)) {
        Remove-Item -Recurse -Force src/PixelPing/obj, src/PixelPing/bin, dist -ErrorAction SilentlyContinue
    }
    $flag = if ($linking -eq 'dynamic') { 'true' } else { 'false' }
    dotnet publish src/PixelPing/PixelPing.csproj -c Release -r linux-x64 -o dist --nologo "-p:PixelPingDynamic=$flag" |
        Where-Object { $_ -notmatch 'in statically linked applications requires at runtime|/usr/bin/ld(\.bfd)?: .*: in function' }
    if ($LASTEXITCODE -ne 0) { [Console]::Error.WriteLine('build.ps1: publish failed'); exit 1 }
    Set-Content -Path dist/.linking -Value $linking -NoNewline
    Write-Output "built dist/pixel-ping ($linking, $((Get-Item dist/pixel-ping).Length) bytes; symbols in dist/pixel-ping.dbg)"
}

function Test-Stale {
    if (-not (Test-Path dist/pixel-ping)) { return $true }
    if ((Get-Content dist/.linking -ErrorAction SilentlyContinue) -ne $linking) { return $true }
    $built = (Get-Item dist/pixel-ping).LastWriteTimeUtc
    $sources = @(Get-ChildItem -Recurse -File src | Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' }) +
        @(Get-Item pixel.gif, Directory.Build.props)
    return [bool]($sources | Where-Object { $_.LastWriteTimeUtc -gt $built } | Select-Object -First 1)
}

switch ($Verb) {
    { $_ -in 'publish', 'build' } { Invoke-Publish }
    'test' {
        Invoke-Publish
        dotnet test PixelPing.sln -c Release --nologo @Rest
        exit $LASTEXITCODE
    }
    'run' {
        $config = if ($Rest.Count -gt 0) { $Rest[0] } else { 'config.example.json' }
        if (Test-Stale) { Invoke-Publish }
        & ./dist/pixel-ping $config
        exit $LASTEXITCODE
    }
    'clean' {
        Remove-Item -Recurse -Force dist, src/*/bin, src/*/obj, tests/*/bin, tests/*/obj -ErrorAction SilentlyContinue
    }
    default {
        [Console]::Error.WriteLine('usage: ./build.ps1 [publish|test [dotnet test args]|run [config.json]|clean] [-Dynamic]')
        exit 2
    }
}
