using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// The published binary under a small open-file limit: connections must never take the descriptors a flush needs,
/// and connections that send nothing must not hold theirs for long.
/// </summary>
[Trait("Kind", "External")]
public sealed partial class DescriptorLimitTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task With_a_hard_limit_of_64_and_100_clients_holding_connections_a_USR2_flush_still_reaches_the_endpoint()
    {
        await using var receiver = new EndpointReceiver();
        string dir = TempDir.Create();
        string config = ServerProcess.WriteConfig($$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "log": false, "endpoint": "{{receiver.Url}}" }""", dir);
        using ServerProcess server = ServerProcess.StartUnder(["prlimit", "--nofile=64:64", "--"], dir, config);
        int port = server.WaitForPort(Deadline);

        // The start says that maxconnections (10000 by default) does not fit, and what cap is in force.
        string warning = server.WaitForStderr(l => l.Contains("\"maxconnections\" is 10000", StringComparison.Ordinal), Deadline);
        int cap = int.Parse(AllowsLine().Match(warning).Groups[1].Value);
        Assert.InRange(cap, 8, 40);

        // 100 clients, each with one keep-alive request answered and the connection held open; those past the cap
        // are closed at once instead of using up the descriptors.
        var sockets = new List<Socket>();
        int served = 0;
        try
        {
            for (int i = 0; i < 100; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
                sockets.Add(socket);
                socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
                socket.Send(Encoding.ASCII.GetBytes(RawHttpClient.Get("/pixel.gif?key=held")));
                if (ReadsOk(socket))
                {
                    served++;
                }
            }

            output.WriteLine($"cap in force {cap}; {served} of 100 clients served and held");
            Assert.Equal(cap, served);

            server.Signal(ServerProcess.SIGUSR2);
            Assert.True(await receiver.WaitForTotalAsync(served, Deadline), string.Join('\n', server.Stderr));
            Assert.Equal(served, receiver.Totals["held"]);
            Assert.DoesNotContain(server.Stderr, l => l.Contains("accept failed", StringComparison.Ordinal) || l.Contains("Too many open files", StringComparison.Ordinal));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public void Check_says_what_cap_the_open_file_limit_allows()
    {
        string dir = TempDir.Create();
        string config = ServerProcess.WriteConfig("""{ "host": "127.0.0.1", "port": 0, "maxconnections": 5000 }""", dir);
        using ServerProcess check = ServerProcess.StartUnder(["prlimit", "--nofile=200:200", "--"], dir, "--check", config);
        Assert.Equal(0, check.WaitForExit(Deadline));
        Assert.Contains(check.Stderr, l => l.StartsWith("pixel-ping: warning: \"maxconnections\" is 5000 but the open-file limit (200", StringComparison.Ordinal));

        // A limit that leaves nothing for connections stops the check and the start alike.
        using ServerProcess tooLow = ServerProcess.StartUnder(["prlimit", "--nofile=30:30", "--"], dir, "--check", config);
        Assert.Equal(1, tooLow.WaitForExit(Deadline));
        Assert.Contains(tooLow.Stderr, l => l.Contains("leaves no descriptor for connections", StringComparison.Ordinal));
        using ServerProcess start = ServerProcess.StartUnder(["prlimit", "--nofile=30:30", "--"], dir, config);
        Assert.Equal(1, start.WaitForExit(Deadline));
    }

    [Fact]
    public void The_soft_limit_is_raised_to_the_hard_one()
    {
        string dir = TempDir.Create();
        string config = ServerProcess.WriteConfig("""{ "host": "127.0.0.1", "port": 0, "maxconnections": 3000 }""", dir);
        // With the soft limit of 64 alone, 3000 connections would not fit; raised to the hard 4096 they do.
        using ServerProcess server = ServerProcess.StartUnder(["prlimit", "--nofile=64:4096", "--"], dir, config);
        server.WaitForPort(Deadline);
        Assert.Contains("Max open files            4096                 4096", File.ReadAllText($"/proc/{server.Pid}/limits"), StringComparison.Ordinal);
        Assert.DoesNotContain(server.Stderr, l => l.Contains("maxconnections", StringComparison.Ordinal));
    }

    [Fact]
    public void A_connection_that_sends_nothing_is_closed_after_the_header_timeout_not_the_idle_timeout()
    {
        using ServerProcess server = ServerProcess.StartWithConfig(
            """{ "host": "127.0.0.1", "port": 0, "headertimeout": 1, "idletimeout": 3600 }""", out int port);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 60_000 };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, port));

        // The kernel keeps a silent connection from the server for the TCP_DEFER_ACCEPT period (10 s), then hands it
        // over; from there the server closes it one header timeout later. An idle timeout of an hour would hold it.
        bool closed;
        try
        {
            closed = socket.Receive(new byte[16]) == 0;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            closed = true;
        }

        Assert.True(closed);
    }

    [Fact]
    public void The_systemd_unit_raises_the_open_file_limit_above_the_default_maxconnections()
    {
        string unit = File.ReadAllText(Path.Combine(Repo.Root, "deploy", "pixel-ping.service"));
        Match limit = Regex.Match(unit, @"^LimitNOFILE=(\d+)$", RegexOptions.Multiline);
        Assert.True(limit.Success, "deploy/pixel-ping.service sets no LimitNOFILE");
        // The default maxconnections (10000) plus the reserve for the flush, the spool and reloads.
        Assert.True(int.Parse(limit.Groups[1].Value) >= 10_000 + 1000);
    }

    private static bool ReadsOk(Socket socket)
    {
        byte[] buffer = new byte[1024];
        int used = 0;
        try
        {
            while (used < 12)
            {
                int n = socket.Receive(buffer, used, buffer.Length - used, SocketFlags.None);
                if (n == 0)
                {
                    return false;
                }

                used += n;
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return false;
        }

        return Encoding.ASCII.GetString(buffer, 0, 12) == "HTTP/1.1 200";
    }

    [GeneratedRegex(@"allows (\d+)")]
    private static partial Regex AllowsLine();
}
