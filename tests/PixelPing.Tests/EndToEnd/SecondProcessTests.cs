using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// A second process started on what a running one holds, on the published binary: the same config again, or another
/// config with the same spool file. The start and <c>--check</c> refuse it alike, in one line and exit code 1;
/// <c>--check --no-bind</c> passes the running server's config. (A status address on the pixel port:
/// <see cref="CheckParityTests"/>.)
/// </summary>
[Trait("Kind", "External")]
public sealed class SecondProcessTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = TempDir.Create();

    private string Write(string name, string json)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>Runs the executable to its end: its exit code and what it printed on stderr.</summary>
    private (int Code, string[] Stderr) Run(params string[] args)
    {
        using ServerProcess process = ServerProcess.Start(_dir, args);
        int code = process.WaitForExit(Deadline);
        return (code, process.Stderr);
    }

    private void AssertRefusedByStartAndCheck(string config, string expected)
    {
        (int code, string[] stderr) = Run(config);
        Assert.Equal(1, code);
        Assert.Equal(expected, Assert.Single(stderr));

        (code, stderr) = Run("--check", config);
        Assert.Equal(1, code);
        Assert.Equal(expected, Assert.Single(stderr));

        // Everything but the port and the spool's lock: the config of the running server checks out.
        (code, stderr) = Run("--check", "--no-bind", config);
        Assert.Equal(0, code);
        Assert.Empty(stderr);
    }

    [Fact]
    public async Task A_second_start_of_one_config_fails_in_one_line_and_every_hit_goes_to_the_first()
    {
        await using var receiver = new EndpointReceiver();
        int port = Ports.Free();
        string config = Write("config.json",
            $$"""{ "host": "127.0.0.1", "port": {{port}}, "interval": 3600, "endpoint": "{{receiver.Url}}", "spool": "spool.txt", "log": false }""");
        using ServerProcess first = ServerProcess.Start(_dir, config);
        Assert.Equal(port, first.WaitForPort(Deadline));

        AssertRefusedByStartAndCheck(config, $"pixel-ping: {config}: cannot listen on 127.0.0.1:{port}: port {port} is already in use");

        // A connection each, so that a second process sharing the port would have been given some of them.
        for (int i = 0; i < 200; i++)
        {
            using var client = new RawHttpClient(port);
            Assert.Equal(200, client.Request($"/pixel.gif?key=k{i % 7}").Status);
        }

        first.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, first.WaitForExit(Deadline));
        Assert.Equal(200, receiver.TotalHits);
    }

    [Fact]
    public async Task A_start_with_the_spool_of_a_running_one_names_its_PID_and_a_killed_holder_leaves_no_obstacle()
    {
        await using var receiver = new EndpointReceiver();
        string json = $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{receiver.Url}}", "spool": "spool.txt", "log": false }""";
        string first = Write("first.json", json);
        string second = Write("second.json", json);
        using ServerProcess holder = ServerProcess.Start(_dir, first);
        holder.WaitForPort(Deadline);

        AssertRefusedByStartAndCheck(second,
            $"pixel-ping: {second}: \"spool\": spool.txt is in use by process {holder.Pid} (it holds spool.txt.lock); two processes must not share one spool file");

        // SIGKILL: no shutdown at all, the lock file stays with the dead PID in it; the kernel has dropped the lock.
        holder.Signal(ServerProcess.SIGKILL);
        holder.WaitForExit(Deadline);
        Assert.True(File.Exists(Path.Combine(_dir, "spool.txt.lock")));
        Assert.Equal(0, Run("--check", second).Code);
        using ServerProcess next = ServerProcess.Start(_dir, second);
        next.WaitForPort(Deadline);
        next.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, next.WaitForExit(Deadline));
    }
}
