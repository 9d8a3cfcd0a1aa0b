using System.Net;
using System.Security.Cryptography;
using System.Text;
using PixelPing.Tests.Support;

namespace PixelPing.Tests;

/// <summary>
/// The whole server in-process, on real sockets, flushing to a real HTTP receiver: every hit answered with a pixel
/// reaches the endpoint exactly once, whatever the endpoint does in between.
/// </summary>
public sealed class ServerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task After_the_last_take_a_pixel_with_a_key_is_answered_503_and_counted_nowhere()
    {
        await using var receiver = new EndpointReceiver();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600));
        using var client = new RawHttpClient(server.Port);
        Assert.Equal(200, client.Request("/pixel.gif?key=before").Status);

        // A second stop signal's exit path: the store's last take, after which nothing delivers or saves a hit.
        Assert.Equal(1, server.Server.Flusher.SaveBeforeExit("test: a second stop signal"));

        RawResponse late = client.Request("/pixel.gif?key=late");
        Assert.Equal(503, late.Status);
        Assert.Equal("close", late.Header("Connection"));
        using var other = new RawHttpClient(server.Port);
        Assert.Equal(200, other.Request("/pixel.gif").Status);
        Assert.Equal(0, receiver.Requests);
    }

    [Fact]
    public async Task Concurrent_clients_hits_sent_equal_hits_received()
    {
        await using var receiver = new EndpointReceiver();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver));
        const int clients = 8;
        const int perClient = 400;
        var expected = new Dictionary<string, long>();
        for (int k = 0; k < 20; k++)
        {
            expected[$"page:{k}"] = 0;
        }

        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Dedicated.Run(() =>
        {
            using var client = new RawHttpClient(server.Port);
            for (int i = 0; i < perClient; i++)
            {
                RawResponse response = client.Request($"/pixel.gif?key=page:{(c + i) % 20}");
                Assert.Equal(200, response.Status);
            }
        })));
        for (int c = 0; c < clients; c++)
        {
            for (int i = 0; i < perClient; i++)
            {
                expected[$"page:{(c + i) % 20}"]++;
            }
        }

        Assert.True(await receiver.WaitForTotalAsync(clients * perClient, Deadline), $"received {receiver.TotalHits}");
        Assert.Equal(expected, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
        Assert.Equal(clients * perClient, receiver.TotalHits);
    }

    [Theory]
    [InlineData(ReceiverMode.Status500)]
    [InlineData(ReceiverMode.Redirect301)]
    [InlineData(ReceiverMode.Hang)]
    [InlineData(ReceiverMode.CloseBeforeResponse)]
    public async Task Failed_batches_are_resent_unchanged_until_the_endpoint_recovers(ReceiverMode failure)
    {
        await using var receiver = new EndpointReceiver { Mode = failure };
        var settings = InProcessServer.Defaults(receiver) with { Timeout = TimeSpan.FromMilliseconds(400) };
        await using var server = InProcessServer.Start(settings);
        using (var client = new RawHttpClient(server.Port))
        {
            for (int i = 0; i < 50; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=a").Status);
            }
        }

        // At least three failed attempts, all carrying the same batch.
        Assert.True(await receiver.WaitForRequestsAsync(3, Deadline));
        using (var client = new RawHttpClient(server.Port))
        {
            for (int i = 0; i < 30; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=b").Status);
            }
        }

        receiver.Mode = ReceiverMode.Accept;
        Assert.True(await receiver.WaitForTotalAsync(80, Deadline), $"received {receiver.TotalHits}");
        Assert.Equal(50, receiver.Totals["a"]);
        Assert.Equal(30, receiver.Totals["b"]);

        // Every attempt before the first accepted one carried the first batch, unchanged.
        ReceivedFlush[] flushes = [.. receiver.Received];
        if (failure != ReceiverMode.Hang)
        {
            string firstBatch = flushes[0].Form["batch"];
            ReceivedFlush[] attempts = flushes.TakeWhile(f => !f.Stored).ToArray();
            Assert.True(attempts.Length >= 3);
            Assert.All(attempts, f => Assert.Equal(firstBatch, f.Form["batch"]));
            Assert.All(attempts, f => Assert.Equal(flushes[0].Body, f.Body));
            Assert.Equal(firstBatch, flushes.First(f => f.Stored).Form["batch"]);
        }
    }

    [Fact]
    public async Task Refused_connections_keep_the_batch_until_the_endpoint_listens_again()
    {
        await using var receiver = new EndpointReceiver();
        receiver.Refuse();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver));
        using (var client = new RawHttpClient(server.Port))
        {
            for (int i = 0; i < 25; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=down").Status);
            }
        }

        // Wait until the flusher has taken the hits and failed with them at least once.
        await Wait.Until(() => server.Server.Flusher.Kept is not null, "the flusher keeping its failed batch", Deadline);
        receiver.Listen();
        Assert.True(await receiver.WaitForTotalAsync(25, Deadline));
        Assert.Equal(25, receiver.Totals["down"]);
    }

    [Fact]
    public async Task Discard_drops_a_failed_batch()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver) with { Discard = true });
        using var client = new RawHttpClient(server.Port);
        for (int i = 0; i < 10; i++)
        {
            client.Request("/pixel.gif?key=lost");
        }

        Assert.True(await receiver.WaitForRequestsAsync(1, Deadline));
        receiver.Mode = ReceiverMode.Accept;
        for (int i = 0; i < 7; i++)
        {
            client.Request("/pixel.gif?key=kept");
        }

        Assert.True(await receiver.WaitForTotalAsync(7, Deadline));
        // The batch is pending until its answer is read, a moment after the receiver stored it.
        await Wait.Until(() => server.Server.Flusher.Kept is null, "the delivered batch is still pending");
        Assert.Equal(7, receiver.Totals["kept"]);
        Assert.False(receiver.Totals.ContainsKey("lost"));
    }

    [Fact]
    public async Task Flush_carries_the_secret_and_a_verifiable_signature_and_keeps_the_endpoint_query()
    {
        await using var receiver = new EndpointReceiver();
        const string secret = "s3cret &=+ é";
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver) with { Secret = secret });
        using (var client = new RawHttpClient(server.Port))
        {
            client.Request("/pixel.gif?key=signed");
        }

        Assert.True(await receiver.WaitForTotalAsync(1, Deadline));
        ReceivedFlush flush = receiver.Received.First(f => f.Stored);
        Assert.Equal("/hits?site=test", flush.Target);
        Assert.Equal(secret, flush.Form["secret"]);
        Assert.Equal("application/x-www-form-urlencoded", flush.Headers["Content-Type"]);
        string expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), flush.Body));
        Assert.Equal(expected, flush.Headers["X-Pixel-Ping-Signature"]);
        Assert.StartsWith("json=", Encoding.ASCII.GetString(flush.Body), StringComparison.Ordinal);
        Assert.Equal(["json", "secret", "batch", "from", "to"], Encoding.ASCII.GetString(flush.Body).Split('&').Select(p => p.Split('=')[0]));
    }

    [Fact]
    public async Task An_empty_interval_sends_nothing()
    {
        await using var receiver = new EndpointReceiver();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 0.05));
        // Several intervals pass with no hits: each flush runs (FlushAsync returns) without a request.
        for (int i = 0; i < 3; i++)
        {
            Assert.True(await server.Server.Flusher.FlushAsync());
        }

        Assert.Equal(0, receiver.Requests);
        using (var client = new RawHttpClient(server.Port))
        {
            client.Request("/pixel.gif?key=x");
        }

        Assert.True(await receiver.WaitForTotalAsync(1, Deadline));
    }

    [Fact]
    public async Task Reaching_the_key_cap_flushes_early_and_refuses_new_keys_until_then()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        // An interval far beyond the test: only the cap can trigger the flush.
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { MaxKeys = 5 });
        using var client = new RawHttpClient(server.Port);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(200, client.Request($"/pixel.gif?key=k{i}").Status);
        }

        Assert.True(await receiver.WaitForRequestsAsync(1, Deadline), "the cap did not trigger a flush");
        // The failed batch is kept; live keys start again from zero and existing keys keep counting.
        Assert.Equal(200, client.Request("/pixel.gif?key=k0").Status);
        receiver.Mode = ReceiverMode.Accept;
        await server.Server.Flusher.FlushAsync();
        Assert.True(await receiver.WaitForTotalAsync(6, Deadline));
        Assert.Equal(2, receiver.Totals["k0"]);
    }

    [Fact]
    public async Task Keys_past_the_limits_are_refused_but_still_get_the_pixel()
    {
        // The endpoint fails, so after the first early flush the kept batch blocks further swaps and the live keys
        // fill up to the cap again: only then are new keys refused.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        var settings = InProcessServer.Defaults(receiver, intervalSeconds: 3600) with
        {
            MaxKeys = 2,
            MaxKeyLength = 8,
            Status = new IPEndPoint(IPAddress.Loopback, 0),
        };
        await using var server = InProcessServer.Start(settings);
        using var client = new RawHttpClient(server.Port);
        Assert.Equal(200, client.Request("/pixel.gif?key=12345678").Status);
        Assert.Equal(200, client.Request("/pixel.gif?key=123456789").Status);
        Assert.Equal(200, client.Request("/pixel.gif?key=k2").Status);
        Assert.True(await receiver.WaitForRequestsAsync(1, Deadline), "the cap did not trigger a flush");
        Assert.Equal(200, client.Request("/pixel.gif?key=k3").Status);
        Assert.Equal(200, client.Request("/pixel.gif?key=k4").Status);
        Assert.Equal(200, client.Request("/pixel.gif?key=k5").Status);
        Assert.Equal(200, client.Request("/pixel.gif?key=k3").Status);
        using (var status = new RawHttpClient(server.Server.StatusEndPoint!.Port))
        {
            Dictionary<string, double> metrics = Scrape.Parse(Scrape.Utf8(status.Request("/metrics").Body));
            Assert.Equal(1, metrics["pixelping_refused_hits_total{reason=\"maxkeys\"}"]);
            Assert.Equal(1, metrics["pixelping_refused_hits_total{reason=\"maxkeylength\"}"]);
            Assert.Equal(2, metrics["pixelping_keys"]);
        }

        receiver.Mode = ReceiverMode.Accept;
        await server.Server.Flusher.FlushAsync();
        Assert.True(await receiver.WaitForTotalAsync(5, Deadline));
        Assert.Equal(new Dictionary<string, long> { ["12345678"] = 1, ["k2"] = 1, ["k3"] = 2, ["k4"] = 1 },
            receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
    }

    [Fact]
    public async Task Listens_on_IPv6_and_IPv4_when_no_host_is_given()
    {
        if (!System.Net.Sockets.Socket.OSSupportsIPv6)
        {
            // Without IPv6 in the kernel there is no dual-stack socket to test; IPv4 is covered everywhere else.
            Assert.False(System.Net.Sockets.Socket.OSSupportsIPv6);
            return;
        }

        await using var receiver = new EndpointReceiver();
        await using var server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { Host = null });
        using (var v4 = new RawHttpClient(server.Port, IPAddress.Loopback))
        {
            Assert.Equal(200, v4.Request("/pixel.gif?key=v4").Status);
        }

        using (var v6 = new RawHttpClient(server.Port, IPAddress.IPv6Loopback))
        {
            Assert.Equal(200, v6.Request("/pixel.gif?key=v6").Status);
        }

        Assert.Equal(1, await server.DeliveredAsync(receiver, "v4"));
        Assert.Equal(1, await server.DeliveredAsync(receiver, "v6"));
    }
}
