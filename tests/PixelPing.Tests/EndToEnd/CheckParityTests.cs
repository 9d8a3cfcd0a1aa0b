using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// <c>--check</c> against the start, on the published binary: what one refuses the other refuses, and both say why in
/// words.
/// </summary>
public sealed class CheckParityTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly string[] Nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

    [Fact]
    public void A_spool_directory_the_process_cannot_write_is_named_by_check_and_at_start()
    {
        // The directory is root's (0755) and the server runs as nobody: it exists, but no save could succeed there.
        string dir = TempDir.Create();
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/hits", "spool": "spool.txt" }""");
        string expected = "the directory of spool.txt is not writable by this process (Permission denied)";

        using ServerProcess check = ServerProcess.StartUnder(Nobody, dir, "--check", config);
        Assert.Equal(0, check.WaitForExit(Deadline));
        Assert.Contains(check.Stderr, l => l.Contains(expected, StringComparison.Ordinal));

        using ServerProcess server = ServerProcess.StartUnder(Nobody, dir, config);
        server.WaitForPort(Deadline);
        server.WaitForStderr(l => l.Contains(expected, StringComparison.Ordinal), Deadline);
    }
}
