using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// An endpoint host name with several addresses (docs/exactly-once.md, "How a flush is sent"), on the published
/// binary. The name is <c>endpoint.test</c>, given two loopback addresses by a hosts file that only the binary sees: it
/// runs in a mount namespace of its own with that file bound over <c>/etc/hosts</c>, so the machine's own file is
/// never touched.
/// </summary>
[Trait("Kind", "External")]
public sealed class EndpointAddressesTests
{
    private const string Name = "endpoint.test";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly IPAddress[] Addresses = [IPAddress.Parse("127.0.0.2"), IPAddress.Loopback];

    [Fact]
    public async Task A_blackholed_first_address_does_not_hold_up_the_flush_the_next_address_takes_it()
    {
        (string hosts, IPAddress[] order) = WriteHosts();
        await using var receiver = new EndpointReceiver(address: order[1]);
        using Blackhole blackhole = await Blackhole.OpenAsync(order[0], receiver.Port);

        // A 30 s timeout: a flush that waited on the first address would still be waiting when the test gives up.
        using ServerProcess server = StartAndFlush(hosts, receiver.Port, timeout: 30);
        Assert.True(await receiver.WaitForTotalAsync(1, Deadline), "the batch reached the second address");
        server.WaitForStdout(l => l == "--- flushed ---", Deadline);
        Assert.DoesNotContain(server.Stdout.Concat(server.Stderr), l => l.Contains("cannot connect", StringComparison.Ordinal));
        Assert.True(blackhole.StillFull(), "the first address stayed a blackhole throughout");
    }

    [Fact]
    public void When_every_address_refuses_the_log_names_each_with_its_reason()
    {
        (string hosts, IPAddress[] order) = WriteHosts();
        int closed = ClosedPort();

        using ServerProcess server = StartAndFlush(hosts, closed, timeout: 30);
        Assert.Equal(
            $"--- cannot connect to endpoint : every address of {Name} failed: {order[0]}:{closed}: connection refused, {order[1]}:{closed}: connection refused",
            server.WaitForStderr(l => l.StartsWith("--- cannot connect to endpoint : ", StringComparison.Ordinal), Deadline));
    }

    [Fact]
    public async Task When_every_address_is_a_blackhole_the_timeout_names_each()
    {
        (string hosts, IPAddress[] order) = WriteHosts();
        using Blackhole first = await Blackhole.OpenAsync(order[0], 0);
        using Blackhole second = await Blackhole.OpenAsync(order[1], first.Port);

        using ServerProcess server = StartAndFlush(hosts, first.Port, timeout: 1);
        Assert.Equal(
            $"--- cannot connect to endpoint : timed out after 1s (no answer from {order[0]}:{first.Port}, {order[1]}:{first.Port})",
            server.WaitForStderr(l => l.StartsWith("--- cannot connect to endpoint : ", StringComparison.Ordinal), Deadline));
    }

    /// <summary>A hosts file giving the name both addresses, and the order the binary will try them in.</summary>
    private static (string Hosts, IPAddress[] Order) WriteHosts()
    {
        string hosts = Path.Combine(TempDir.Create(), "hosts");
        File.WriteAllText(hosts, string.Concat(Addresses.Select(a => $"{a} {Name}\n")));
        return (hosts, ResolveAsTheBinaryDoes(hosts));
    }

    /// <summary>Starts the binary with the name's endpoint on <paramref name="endpointPort"/>, counts a hit and asks for a flush.</summary>
    private static ServerProcess StartAndFlush(string hosts, int endpointPort, int timeout)
    {
        string dir = Path.GetDirectoryName(hosts)!;
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config,
            $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "timeout": {{timeout}}, "endpoint": "http://{{Name}}:{{endpointPort}}/hits" }""");
        ServerProcess server = ServerProcess.StartUnder(WithHosts(hosts), dir, config);
        int port = server.WaitForPort(Deadline);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=several").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        return server;
    }

    /// <summary>A launcher that runs a command with <paramref name="hosts"/> as its /etc/hosts, in a mount namespace of its own.</summary>
    private static string[] WithHosts(string hosts) =>
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\"", hosts];

    /// <summary>
    /// The order the C library's resolver gives the name's addresses (RFC 6724), as the binary, linked with the same
    /// library, sees it: asked of getent in the same kind of namespace. The test needs both, in a known order.
    /// </summary>
    private static IPAddress[] ResolveAsTheBinaryDoes(string hosts)
    {
        ProcessStartInfo info = ServerProcess.StartInfo([.. WithHosts(hosts), "getent", "ahostsv4", Name], Path.GetTempPath());
        using var getent = Process.Start(info)!;
        string output = getent.StandardOutput.ReadToEnd();
        Assert.True(getent.WaitForExit(Deadline), "getent answered");
        IPAddress[] order = [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => IPAddress.Parse(l.Split(' ', 2)[0])).Distinct()];
        Assert.Equal(Addresses.OrderBy(a => a.ToString()), order.OrderBy(a => a.ToString()));
        return order;
    }

    private static int ClosedPort()
    {
        // A port free on both addresses: bound on each, then closed.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>
    /// A listener whose accept queue is full, so that the kernel drops every further SYN: a connect to it neither
    /// succeeds nor fails until the client gives up, as with an address whose packets vanish. Backlog 0, and one
    /// connection that is never accepted fills it.
    /// </summary>
    private sealed class Blackhole : IDisposable
    {
        private readonly Socket _listener;
        private readonly Socket _filler;

        private Blackhole(Socket listener, Socket filler)
        {
            _listener = listener;
            _filler = filler;
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public static async Task<Blackhole> OpenAsync(IPAddress address, int port)
        {
            var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(0);
            var filler = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            await filler.ConnectAsync(listener.LocalEndPoint!);
            var blackhole = new Blackhole(listener, filler);
            await Wait.Until(blackhole.StillFull, "the accept queue to be full");
            return blackhole;
        }

        /// <summary>The listener's queue is over its backlog: TCP_INFO of a listening socket holds the queue length and the backlog.</summary>
        public bool StillFull()
        {
            byte[] info = new byte[104];
            int length = _listener.GetRawSocketOption((int)SocketOptionLevel.Tcp, 11 /* TCP_INFO */, info);
            Assert.True(length >= 32);
            uint queued = BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(24)); // tcpi_unacked
            uint backlog = BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(28)); // tcpi_sacked
            return queued > backlog;
        }

        public void Dispose()
        {
            _filler.Dispose();
            _listener.Dispose();
        }
    }
}
