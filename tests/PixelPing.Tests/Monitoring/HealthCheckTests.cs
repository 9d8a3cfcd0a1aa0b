using System.Net;
using System.Net.Sockets;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Monitoring;

/// <summary><c>pixel-ping --healthcheck CONFIG</c> against a real server started from the same config.</summary>
public sealed class HealthCheckTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    internal static (int Code, string[] Out, string[] Err) HealthCheck(string config)
    {
        using ServerProcess check = ServerProcess.Start(null, "--healthcheck", config);
        int code = check.WaitForExit(Deadline);
        return (code, check.Stdout, check.Stderr);
    }

    private static string WriteConfig(string json)
    {
        string path = Path.Combine(TempDir.Create(), "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task Without_a_status_listener_it_asks_the_pixel_port_and_counts_nothing()
    {
        await using var receiver = new EndpointReceiver();
        int port = Ports.Free();
        string config = WriteConfig($"{{ \"host\": \"127.0.0.1\", \"port\": {port}, \"interval\": 3600, \"log\": false, \"endpoint\": \"{receiver.Url}\" }}");
        using ServerProcess server = ServerProcess.Start(null, config);
        server.WaitForPort(Deadline);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=real").Status);
        }

        var (code, stdout, stderr) = HealthCheck(config);
        Assert.Equal(0, code);
        Assert.Empty(stderr);
        Assert.Matches($@"^pixel-ping: healthy: http://127\.0\.0\.1:{port}/pixel\.gif answered 200 in \d+ ms$", Assert.Single(stdout));

        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        // The check's request was answered but counted no hit: only the real one reached the endpoint.
        Assert.Equal(new Dictionary<string, long> { ["real"] = 1 }, receiver.Totals);
    }

    [Fact]
    public void Over_HTTPS_it_does_not_need_to_trust_the_certificate()
    {
        var pki = new TestPki("HealthCheck");
        string dir = TempDir.Create();
        ServerFiles files = pki.WriteServerFiles(dir, pki.IssueLeaf());
        int port = Ports.Free();
        string config = WriteConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": {port}, \"log\": false, \"sslkey\": \"{files.Key}\", \"sslcert\": \"{files.Cert}\", \"sslca\": \"{files.Ca}\" }}");
        using ServerProcess server = ServerProcess.Start(null, config);
        server.WaitForPort(Deadline);
        // The server's first handshake loads its TLS state; on a loaded machine that alone can take a good part of
        // the check's 1.8 s, which is meant for a server already serving.
        using (RawHttpClient warm = RawHttpClient.ConnectTls(port, [pki.Root]))
        {
            Assert.Equal(200, warm.Request("/pixel.gif").Status);
        }

        var (code, stdout, stderr) = HealthCheck(config);
        Assert.Equal(0, code);
        Assert.Empty(stderr);
        Assert.StartsWith($"pixel-ping: healthy: https://127.0.0.1:{port}/pixel.gif answered 200", Assert.Single(stdout), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sixteen_clients_that_hold_the_status_port_without_a_request_cannot_keep_the_check_out()
    {
        int port = Ports.Free();
        int status = Ports.Free();
        string config = WriteConfig($"{{ \"host\": \"127.0.0.1\", \"port\": {port}, \"status\": \"127.0.0.1:{status}\", \"log\": false }}");
        using ServerProcess server = ServerProcess.Start(null, config);
        server.WaitForPort(Deadline);
        int baseline = server.OpenFds();
        using var stop = new CancellationTokenSource();
        Task[] squatters = [.. Enumerable.Range(0, 16).Select(_ => Dedicated.Run(() => Squat(status, stop.Token)))];
        try
        {
            // Every one of the status port's 16 places is held (a descriptor each in the server) before the checks.
            await Wait.Until(() => server.OpenFds() >= baseline + 16, "16 held connections in the server");
            for (int i = 1; i <= 10; i++)
            {
                var (code, stdout, stderr) = HealthCheck(config);
                Assert.True(code == 0, $"check {i}: {string.Join(" | ", stdout.Concat(stderr))}");
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(squatters);
        }
    }

    /// <summary>
    /// Opens a connection, starts a request and never finishes it; when the server closes it, at once again. The one
    /// byte sent makes the kernel hand the connection to the server now: it holds back a silent one (TCP_DEFER_ACCEPT).
    /// </summary>
    private static void Squat(int port, CancellationToken stop)
    {
        byte[] scratch = new byte[256];
        while (!stop.IsCancellationRequested)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using CancellationTokenRegistration closeOnStop = stop.Register(socket.Dispose);
            try
            {
                socket.Connect(IPAddress.Loopback, port);
                socket.Send("G"u8);
                while (socket.Receive(scratch) > 0)
                {
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Closed by the server (a reset, or refused over the cap) or by the stop: connect again, or end.
            }
        }
    }

    [Fact]
    public void Nothing_listening_is_unhealthy_in_one_line()
    {
        int port = Ports.Free();
        var (code, stdout, stderr) = HealthCheck(WriteConfig($"{{ \"host\": \"127.0.0.1\", \"port\": {port} }}"));
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.Equal($"pixel-ping: unhealthy: http://127.0.0.1:{port}/pixel.gif: connection refused (is the server running?)", Assert.Single(stderr));
    }

    [Fact]
    public void A_port_that_accepts_and_never_answers_is_unhealthy_at_the_deadline()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen();
        int port = ((IPEndPoint)silent.LocalEndPoint!).Port;

        var (code, stdout, stderr) = HealthCheck(WriteConfig($"{{ \"host\": \"127.0.0.1\", \"port\": {port} }}"));
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.Equal($"pixel-ping: unhealthy: http://127.0.0.1:{port}/pixel.gif did not answer within 1.8 s", Assert.Single(stderr));
    }

    [Fact]
    public void A_config_that_does_not_load_is_unhealthy_in_one_line()
    {
        var (code, stdout, stderr) = HealthCheck(WriteConfig("{ \"port\": \"eighty\" }"));
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.StartsWith("pixel-ping: unhealthy: ", Assert.Single(stderr), StringComparison.Ordinal);
    }
}
