using System.Diagnostics;
using System.Net.Sockets;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// A stdout that nobody reads (a stalled terminal, a full journald) holds up neither the loops nor the exit. Alone: its
/// one-second answer deadline is about the server, not about the CPU that parallel tests take from a 2-core machine.
/// </summary>
[Collection(Alone.Name)]
[Trait("Kind", "External")]
public sealed class StalledStdoutTests
{
    private const int Clients = 100;
    private const int KeysPerClient = 500;
    private static readonly TimeSpan StallTime = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AnswerDeadline = TimeSpan.FromSeconds(1);

    // shutdowntimeout (5 s) + the final flush's POST, well under the endpoint's timeout + the log's drain time (2 s),
    // with room for a loaded machine.
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task With_stdout_unread_every_request_is_answered_in_time_every_hit_counted_and_SIGTERM_exits()
    {
        await using var receiver = new EndpointReceiver();
        int port = Ports.Free();
        int statusPort = Ports.Free();
        string dir = TempDir.Create();
        string config = Path.Combine(dir, "config.json");
        // Every flush logs tens of thousands of key lines: far more than the pipe and the log's queue hold.
        File.WriteAllText(config, $$"""
            { "host": "127.0.0.1", "port": {{port}}, "status": "127.0.0.1:{{statusPort}}", "interval": 1, "log": true,
              "endpoint": "{{receiver.Url}}" }
            """);
        using ServerProcess server = ServerProcess.Start(
            ServerProcess.StartInfo([.. Repo.CommandFor(Repo.Binary), config], dir), readStdout: false);
        await Wait.Until(() => Accepts(port), "the server accepts connections");

        var answered = new long[Clients, KeysPerClient];
        var late = new List<string>();
        using var stop = new CancellationTokenSource();
        Task[] clients = Enumerable.Range(0, Clients).Select(c => Dedicated.Run(() =>
        {
            using var client = new RawHttpClient(port);
            // A request not answered within the deadline fails its read, and the test with it.
            client.Socket.ReceiveTimeout = (int)AnswerDeadline.TotalMilliseconds;
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                int k = i % KeysPerClient;
                try
                {
                    Assert.Equal(200, client.Request($"/pixel.gif?key={Key(c, k)}").Status);
                    answered[c, k]++;
                }
                catch (IOException e)
                {
                    lock (late)
                    {
                        late.Add($"client {c}, request {i}: {e.Message}");
                    }

                    return;
                }
            }
        })).ToArray();

        // The stall: nothing reads stdout while the clients send, and the status port still answers a scrape in time.
        var stalled = Stopwatch.StartNew();
        await Wait.Until(() => stalled.Elapsed >= StallTime || late.Count > 0, "the stall", StallTime * 2);
        using (var scraper = new RawHttpClient(statusPort))
        {
            scraper.Socket.ReceiveTimeout = (int)AnswerDeadline.TotalMilliseconds;
            RawResponse metrics = scraper.Request("/metrics");
            Assert.Equal(200, metrics.Status);
            Assert.Contains("pixelping_log_lines_dropped_total", Scrape.Utf8(metrics.Body), StringComparison.Ordinal);
        }

        await stop.CancelAsync();
        await Task.WhenAll(clients);
        Assert.Empty(late);

        // Still unread: the exit must not wait on stdout for more than the log's drain time.
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(ExitDeadline));

        long total = 0;
        IReadOnlyDictionary<string, long> delivered = receiver.Totals;
        for (int c = 0; c < Clients; c++)
        {
            for (int k = 0; k < KeysPerClient; k++)
            {
                if (answered[c, k] > 0)
                {
                    Assert.Equal(answered[c, k], delivered[Key(c, k)]);
                    total += answered[c, k];
                }
            }
        }

        Assert.Equal(total, receiver.TotalHits);
        Assert.True(total > 0);
    }

    // Long keys, so that each flush's key dump is megabytes.
    private static string Key(int client, int key) => $"stalled-stdout-client-{client:000}-key-{key:0000}-padding";

    private static bool Accepts(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
