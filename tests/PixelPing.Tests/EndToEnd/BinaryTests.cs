using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>The published native-AOT executable, run as a child process: command line, startup errors, signals.</summary>
[Trait("Kind", "External")]
[Trait("Emulated", "true")] // also run against the linux-arm64 executable under qemu-user: ./build.sh --arch arm64 test
public sealed class BinaryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static (int Code, string[] Out, string[] Err) Run(string? cwd, params string[] args)
    {
        using ServerProcess process = ServerProcess.Start(cwd, args);
        int code = process.WaitForExit(Deadline);
        return (code, process.Stdout, process.Stderr);
    }

    [Theory]
    [InlineData("-v")]
    [InlineData("-version")]
    [InlineData("--version")]
    public void Version_prints_and_exits_0(string flag)
    {
        var (code, stdout, _) = Run(null, flag);
        Assert.Equal(0, code);
        Assert.Matches(@"^Pixel Ping version \d+\.\d+\.\d+$", Assert.Single(stdout));
    }

    [Theory]
    [InlineData("-h")]
    [InlineData("-help")]
    [InlineData("--help")]
    public void Help_prints_usage_and_exits_0(string flag)
    {
        var (code, stdout, _) = Run(null, flag);
        Assert.Equal(0, code);
        Assert.Equal("Usage: pixel-ping path/to/config.json", stdout[0]);
    }

    [Fact]
    public void No_argument_prints_usage_on_stderr_and_exits_2()
    {
        var (code, stdout, stderr) = Run(null);
        Assert.Equal(2, code);
        Assert.Empty(stdout);
        Assert.Contains(stderr, l => l.StartsWith("Usage: pixel-ping path/to/config.json", StringComparison.Ordinal));
    }

    [Fact]
    public void Missing_config_file_exits_1_with_one_line()
    {
        var (code, _, stderr) = Run(null, "/nonexistent/pixel.json");
        Assert.Equal(1, code);
        Assert.Contains("/nonexistent/pixel.json", Assert.Single(stderr), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_validates_and_describes_without_listening()
    {
        string dir = TempDir.Create();
        string path = Path.Combine(dir, "ok.json");
        File.WriteAllText(path, "{ \"port\": 1, \"endpoint\": \"http://127.0.0.1:9/x\", \"secret\": \"hidden\", \"prot\": 2 }");
        var (code, stdout, stderr) = Run(dir, "--check", path);
        Assert.Equal(0, code);
        Assert.Contains(stdout, l => l.Contains("configuration OK", StringComparison.Ordinal));
        Assert.DoesNotContain(stdout, l => l.Contains("hidden", StringComparison.Ordinal));
        Assert.Contains(stderr, l => l.Contains("\"prot\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Port_in_use_exits_1_with_one_line()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        int port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        string dir = TempDir.Create();
        string path = ServerProcess.WriteConfig($"{{ \"host\": \"127.0.0.1\", \"port\": {port} }}", dir);
        var (code, _, stderr) = Run(dir, path);
        Assert.Equal(1, code);
        string error = Assert.Single(stderr, l => !l.StartsWith("No endpoint", StringComparison.Ordinal));
        Assert.Contains(port.ToString(), error, StringComparison.Ordinal);
        Assert.Contains("in use", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigusr2_flushes_now_and_sigterm_flushes_once_more_signed_and_exits_0()
    {
        await using var receiver = new EndpointReceiver();
        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"{receiver.Url}\", \"secret\": \"usr2-s\u00E9cret\" }}", out int port);
        // The endpoint's query value is masked (it may be a token).
        server.WaitForStdout(l => l == $"Flushing hits to {receiver.Url.Replace("site=test", "site=…", StringComparison.Ordinal)}", Deadline);
        using (var client = new RawHttpClient(port))
        {
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=usr2").Status);
            }
        }

        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStdout(l => l == "Got SIGUSR2. Forcing a flush:", Deadline);
        Assert.True(await receiver.WaitForTotalAsync(5, Deadline));
        server.WaitForStdout(l => l == "5:\tusr2", Deadline);
        server.WaitForStdout(l => l == "--- flushed ---", Deadline);

        using (var client = new RawHttpClient(port))
        {
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=term").Status);
            }
        }

        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(8, receiver.TotalHits);
        Assert.Equal(3, receiver.Totals["term"]);

        // Both flushes signed: HMAC-SHA256 of the body keyed with the secret's UTF-8 bytes, as a receiver checks it.
        Assert.Equal(2, receiver.Received.Count);
        foreach (ReceivedFlush flush in receiver.Received)
        {
            string expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes("usr2-s\u00E9cret"), flush.Body));
            Assert.Equal(expected, flush.Headers["X-Pixel-Ping-Signature"]);
            Assert.Equal("usr2-s\u00E9cret", flush.Form["secret"]);
        }
    }

    [Fact]
    public async Task Sigint_with_an_open_keep_alive_connection_still_exits_0_after_flushing()
    {
        await using var receiver = new EndpointReceiver();
        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"{receiver.Url}\" }}", out int port);
        using var client = new RawHttpClient(port);
        Assert.Equal(200, client.Request("/pixel.gif?key=int").Status);
        server.Signal(ServerProcess.SIGINT);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(1, receiver.Totals["int"]);
        Assert.True(client.IsClosedByServer());
    }

    [Fact]
    public void Without_an_endpoint_hits_are_logged_and_the_warning_is_printed()
    {
        using ServerProcess server = ServerProcess.StartWithConfig("{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 0.2 }", out int port);
        server.WaitForStderr(l => l.StartsWith("No endpoint set. Hits won't be flushed, add \"endpoint\" to ", StringComparison.Ordinal), Deadline);
        using (var client = new RawHttpClient(port))
        {
            client.Request("/pixel.gif?key=logged%20key");
            client.Request("/pixel.gif?key=logged%20key");
        }

        server.WaitForStdout(l => l == "2:\tlogged key", Deadline);
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
    }
}
