using System.Diagnostics;
using PixelPing.Tests.Support;

namespace PixelPing.Tests;

/// <summary>
/// build.sh's prerequisites on a machine that lacks something, made without touching the machine: each test runs the
/// script in its own mount namespace (unshare), where a file the script reads is replaced by a bind mount that only
/// that process sees. Needs root, as the empty-root tests do.
/// </summary>
public sealed class BuildScriptTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public void Without_root_or_sudo_a_missing_package_stops_with_the_apt_get_command_to_run()
    {
        // dpkg's database as a machine would have it without nginx-light, and with libssl-dev installed only for
        // another architecture (the cross build's libssl-dev:arm64 must not pass for the machine's own).
        string native = Run("dpkg", "--print-architecture").Output.Trim();
        string foreign = native == "arm64" ? "amd64" : "arm64";
        var stanzas = new List<string>();
        foreach (string stanza in File.ReadAllText("/var/lib/dpkg/status").Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string[] lines = stanza.Split('\n');
            string package = lines.First(l => l.StartsWith("Package: ", StringComparison.Ordinal))["Package: ".Length..];
            bool nativeCopy = lines.Contains("Architecture: " + native);
            if (package == "nginx-light" || (package == "libssl-dev" && !nativeCopy))
            {
                continue;
            }

            stanzas.Add(package == "libssl-dev" ? stanza.Replace("Architecture: " + native, "Architecture: " + foreign, StringComparison.Ordinal) : stanza);
        }

        string status = Path.Combine(TempDir.Create(), "status");
        File.WriteAllText(status, string.Join("\n\n", stanzas) + "\n");
        AllowEveryone(status);

        (int code, string output, string error) = RunInNamespace(
            $"mount --bind '{status}' /var/lib/dpkg/status && exec setpriv --reuid=65534 --regid=65534 --clear-groups " +
            $"env HOME=/tmp ./build.sh prerequisites test");

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal("build.sh: missing Debian packages; install them with: sudo apt-get update && " +
            "sudo apt-get install -y --no-install-recommends libssl-dev nginx-light", error.TrimEnd('\n'));
    }

    [Fact]
    public void The_static_libraries_are_looked_for_in_the_targets_multiarch_directory()
    {
        string multiarch = Run("gcc", "-print-multiarch").Output.Trim();
        string libssl = $"/usr/lib/{multiarch}/libssl.a";
        Assert.True(File.Exists(libssl), libssl + " is missing: the build needs it, run ./build.sh prerequisites");

        // The machine's own libssl.a hidden; another architecture's copy (when the cross packages are installed) or
        // the package being listed as installed must not make up for it.
        (int code, string output, string error) = RunInNamespace($"mount --bind /dev/null '{libssl}' && exec ./build.sh prerequisites publish");

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Equal(
            $"build.sh: cannot build; install:\n  - OpenSSL's static libraries for {multiarch} in /usr/lib/{multiarch}: apt-get install libssl-dev",
            error.TrimEnd('\n'));
    }

    private static (int Code, string Output, string Error) RunInNamespace(string script)
    {
        Assert.True(Environment.IsPrivilegedProcess, "the build script tests use a mount namespace, which needs root: run the tests as root (CI does)");
        return Run("unshare", "--mount", "--propagation", "private", "sh", "-c", script);
    }

    private static (int Code, string Output, string Error) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Repo.Root,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(Deadline), $"{file} did not finish within {Deadline}");
        return (process.ExitCode, output.Result, error.Result);
    }

    private static void AllowEveryone(string file)
    {
        File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("644", 8));
        for (string? dir = Path.GetDirectoryName(file); dir is not null && dir != Path.GetTempPath().TrimEnd('/'); dir = Path.GetDirectoryName(dir))
        {
            File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("755", 8));
        }
    }
}
