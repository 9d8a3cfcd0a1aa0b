using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// Floods against the published executable: millions of distinct keys, and thousands of idle and half-sent
/// connections. Memory and file descriptors are read from /proc while they last.
/// </summary>
[Trait("Kind", "External")]
public sealed partial class FloodTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private const int MaxConnections = 16;

    [Theory]
    [InlineData(2_000_000, 100_000, 24, "x")]
    [InlineData(30_000, 5_000, 1000, "%01")]
    public async Task Key_flood_stays_under_the_memory_bound_flushes_early_and_counts_every_refusal(int keys, int maxKeys, int keyLength, string filler)
    {
        await using var receiver = new EndpointReceiver { KeepRequests = false, TrackKey = k => k == "hot" };
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""
            { "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{receiver.Url}}", "log": false,
              "maxkeys": {{maxKeys}}, "maxkeylength": {{keyLength}}, "maxconnections": {{MaxConnections}}, "timeout": 10 }
            """, out int port);
        long baseline = server.RssKiB();
        const int connections = 4;
        int perPhase = keys / 2 / connections;
        // Keys of exactly maxkeylength bytes once decoded: a 12-byte unique prefix, then the filler (one byte decoded).
        string padding = string.Concat(Enumerable.Repeat(filler, keyLength - 12));

        // Every tenth request on each connection hits one existing key: it must keep counting throughout.
        string Target(int phase, int c, long i) =>
            i % 10 == 0 ? "/pixel.gif?key=hot" : $"/pixel.gif?key={phase}{c}{i:D10}{padding}";

        var clock = Stopwatch.StartNew();
        // Phase 1: the endpoint accepts; reaching maxkeys flushes early (the interval is an hour).
        LoadResult first = await PipelinedLoad.RunAsync(port, connections, perPhase, (c, i) => Target(1, c, i), Deadline);
        Assert.True(await receiver.WaitForTotalAsync(1, Deadline), "reaching maxkeys did not flush");
        // Phase 2: the endpoint fails, so a failed batch is kept, the live keys fill up to maxkeys, and new keys are refused.
        receiver.Mode = ReceiverMode.Status500;
        int requestsBefore = receiver.Requests;
        LoadResult second = await PipelinedLoad.RunAsync(port, connections, perPhase, (c, i) => Target(2, c, i), Deadline);
        Assert.True(await receiver.WaitForRequestsAsync(requestsBefore + 1, Deadline), "no flush while the endpoint failed");
        // Phase 3: the endpoint recovers; SIGUSR2 sends the kept batch, then the live keys.
        receiver.Mode = ReceiverMode.Accept;
        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStdout(l => l == "Got SIGUSR2. Forcing a flush:", Deadline);
        long answered = first.Answered200 + second.Answered200;
        long refused = 0;
        var until = Stopwatch.StartNew();
        while (receiver.TotalHits + refused < answered && until.Elapsed < Deadline)
        {
            await Task.Delay(20);
            refused = Refused(server);
        }

        long peakRss = server.PeakRssKiB();
        int fds = server.OpenFds();
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        refused = Refused(server);

        long hot = 2L * connections * ((perPhase + 9) / 10);
        long boundKiB = MemoryBoundKiB(maxKeys, keyLength, MaxConnections);
        int batches = receiver.StoredBatchIds.Count;
        output.WriteLine($"{keys} keys of {keyLength} bytes ({filler}), maxkeys {maxKeys}: answered {answered}, delivered {receiver.TotalHits}, " +
            $"refused {refused}, batches {batches}, baseline RSS {baseline} KiB, peak RSS {peakRss} KiB (bound {boundKiB} KiB), " +
            $"fds {fds}, {clock.Elapsed.TotalSeconds:F1} s");

        Assert.Equal(first.Sent + second.Sent, answered);
        Assert.True(refused > 0, "no hit was refused");
        Assert.Equal(answered, receiver.TotalHits + refused);
        Assert.Equal(hot, receiver.Totals["hot"]);
        Assert.True(batches >= 2, $"only {batches} batches");
        Assert.True(peakRss < boundKiB, $"peak RSS {peakRss} KiB over the documented bound {boundKiB} KiB");
    }

    [Fact]
    public async Task Connection_flood_and_slowloris_cannot_starve_clients_break_the_cap_or_leak_descriptors()
    {
        // Each flood socket is a descriptor in this process too; CI machines often start with a soft limit of 1024.
        long limit = FileLimits.RaiseTo(8192);
        int flood = (int)Math.Min(3000, limit - 400);
        Assert.True(flood >= 600, $"the open-file limit is {limit}; this test needs about 1000: raise it (ulimit -n 8192) before running the tests");
        int cap = flood / 2;
        const int normal = 4;
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""
            { "host": "127.0.0.1", "port": 0, "interval": 3600, "maxconnections": {{cap}},
              "headertimeout": 2, "idletimeout": 4 }
            """, out int port);
        int baselineFds = server.OpenFds();
        long baselineRss = server.RssKiB();
        var clients = Enumerable.Range(0, normal).Select(_ => new RawHttpClient(port)).ToList();
        var sockets = new List<Socket>();
        try
        {
            long served = 0;
            void Serve(int rounds)
            {
                foreach (RawHttpClient client in clients)
                {
                    for (int i = 0; i < rounds; i++)
                    {
                        Assert.Equal(200, client.Request("/pixel.gif?key=normal").Status);
                        served++;
                    }
                }
            }

            Serve(10);
            // Four kinds, interleaved: silent (connected, nothing sent: the kernel keeps these from the server under
            // TCP_DEFER_ACCEPT, so they must cost it no descriptor), idle keep-alive (one request, then nothing),
            // slowloris (a head trickled a byte at a time), and a large head sent up to its last line, then stalled.
            byte[] largeHead = Encoding.ASCII.GetBytes("GET /pixel.gif HTTP/1.1\r\nHost: x\r\n" +
                string.Concat(Enumerable.Range(0, 90).Select(i => $"X-Filler-{i:D3}: {new string('f', 140)}\r\n")));
            byte[] oneRequest = Encoding.ASCII.GetBytes(RawHttpClient.Get("/pixel.gif?key=flood"));
            var trickle = new List<Socket>();
            var silent = new List<Socket>();
            for (int i = 0; i < flood; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Connect(new IPEndPoint(IPAddress.Loopback, port));
                sockets.Add(socket);
                switch (i % 4)
                {
                    case 0:
                        silent.Add(socket);
                        break;
                    case 1:
                        TrySend(socket, oneRequest);
                        break;
                    case 2:
                        TrySend(socket, "G"u8);
                        trickle.Add(socket);
                        break;
                    default:
                        TrySend(socket, largeHead);
                        break;
                }
            }

            List<Socket> seen = [.. sockets.Except(silent)];
            // The cap holds: the server never has more than maxconnections client sockets open.
            int peakFds = 0;
            long peakRss = 0;
            int heldByServer = flood;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(1.5))
            {
                peakFds = Math.Max(peakFds, server.OpenFds());
                peakRss = Math.Max(peakRss, server.RssKiB());
                foreach (Socket socket in trickle)
                {
                    TrySend(socket, "E"u8);
                }

                Serve(1);
                await Task.Delay(100);
            }

            // Connections over the cap were closed at once; the header timeout may have begun cutting the others.
            heldByServer = seen.Count(s => !IsClosed(s));
            Assert.True(heldByServer <= cap - normal, $"{heldByServer} flood connections held open with a cap of {cap}");
            Assert.True(peakFds <= baselineFds + cap + 2, $"{peakFds} descriptors open (baseline {baselineFds}, cap {cap})");

            // Normal clients kept being served throughout; once the header and idle timeouts have cut the flood
            // loose, new clients get in again.
            Serve(10);
            await Wait.Until(() =>
            {
                Serve(1); // the normal clients stay busy, so their own idle timeout never comes
                return seen.All(IsClosed);
            }, "the flood connections were not all closed by the timeouts", TimeSpan.FromSeconds(30));
            using (var late = new RawHttpClient(port))
            {
                Assert.Equal(200, late.Request("/pixel.gif?key=normal").Status);
                served++;
            }

            Serve(10);
            foreach (Socket socket in sockets)
            {
                socket.Dispose();
            }

            // No descriptor leaks: the normal clients are all that is left.
            await Wait.Until(() => server.OpenFds() <= baselineFds + normal,
                $"descriptors did not return to the baseline {baselineFds} + {normal}", TimeSpan.FromSeconds(10));
            clients.ForEach(c => c.Dispose());
            clients.Clear();
            await Wait.Until(() => server.OpenFds() <= baselineFds, $"descriptors did not return to the baseline {baselineFds}", TimeSpan.FromSeconds(10));
            long boundKiB = MemoryBoundKiB(100_000, 1024, cap, keysHeld: 1);
            output.WriteLine($"{flood} flood connections ({silent.Count} silent, cap {cap}): held {heldByServer}, peak fds {peakFds} (baseline {baselineFds}), " +
                $"RSS {baselineRss} -> peak {peakRss} KiB (bound {boundKiB} KiB), normal requests served {served}, fds after {server.OpenFds()}");
            Assert.True(peakRss < boundKiB, $"peak RSS {peakRss} KiB over the documented bound {boundKiB} KiB");

            server.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, server.WaitForExit(Deadline));
            Assert.Contains($"{served}:\tnormal", server.Stdout);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
            sockets.ForEach(s => s.Dispose());
        }
    }

    private static void TrySend(Socket socket, ReadOnlySpan<byte> bytes)
    {
        try
        {
            socket.Send(bytes);
        }
        catch (SocketException)
        {
            // Closed by the server (over the cap, or timed out): exactly what the flood is for.
        }
    }

    /// <summary>True once the server has closed its end (end of stream or reset); reads and drops anything it sent.</summary>
    private static bool IsClosed(Socket socket)
    {
        try
        {
            socket.Blocking = false;
            byte[] buffer = new byte[4096];
            while (true)
            {
                if (socket.Receive(buffer) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>The memory bound of docs/operations.md for these limits, in KiB.</summary>
    private static long MemoryBoundKiB(int maxKeys, int maxKeyLength, int maxConnections, int? keysHeld = null) =>
        ((24L << 20) + ((long)(keysHeld ?? maxKeys) * ((3L * maxKeyLength) + 400)) + (maxConnections * (8192L + 16384 + 8192))) / 1024;

    private static long Refused(ServerProcess server) => server.Stderr.Select(l => RefusedLine().Match(l)).Where(m => m.Success)
        .Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"^--- refused (\d+) hits")]
    private static partial Regex RefusedLine();
}
