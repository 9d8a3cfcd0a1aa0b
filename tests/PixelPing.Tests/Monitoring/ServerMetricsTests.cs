using System.Net;
using System.Security.Cryptography.X509Certificates;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Monitoring;

/// <summary>Each metric against what the test did to a real server: exact counts, never estimates.</summary>
public sealed class ServerMetricsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static Dictionary<string, double> ScrapeOf(InProcessServer server)
    {
        using var client = new RawHttpClient(server.Server.StatusEndPoint!.Port);
        RawResponse response = client.Request("/metrics");
        Assert.Equal(200, response.Status);
        string text = Scrape.Utf8(response.Body);
        var (code, output) = Scrape.PromtoolCheck(text);
        Assert.True(code == 0, output + "\n" + text);
        return Scrape.Parse(text);
    }

    [Fact]
    public async Task Hits_requests_refusals_and_keys_are_exact()
    {
        // No endpoint: reaching maxkeys flushes to the log only and the keys stay, so the next new key is refused.
        await using InProcessServer server = InProcessServer.Start(InProcessServer.Defaults(null, intervalSeconds: 3600) with
        {
            Status = new IPEndPoint(IPAddress.Loopback, 0),
            MaxKeys = 3,
            MaxKeyLength = 8,
        });

        // Concurrent clients on several connections: the per-shard counters must still add up exactly.
        const int Clients = 4, PerClient = 250;
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(c => Dedicated.Run(() =>
        {
            using var client = new RawHttpClient(server.Port);
            for (int i = 0; i < PerClient; i++)
            {
                Assert.Equal(200, client.Request($"/pixel.gif?key=k{i % 3}").Status);
            }
        })));
        using (var client = new RawHttpClient(server.Port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=fourth").Status);          // past maxkeys: refused
            Assert.Equal(200, client.Request("/pixel.gif?key=far-too-long").Status);    // past maxkeylength: refused
            Assert.Equal(200, client.Request("/pixel.gif").Status);                     // no key: nothing to count
            Assert.Equal(404, client.Request("/elsewhere").Status);
            client.Send("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
            Assert.Equal(405, client.Read().Status);
        }

        using (var bad = new RawHttpClient(server.Port))
        {
            bad.Send("GET /pixel.gif HTTP/9.9\r\n\r\n");
            Assert.Equal(505, bad.Read().Status);
        }

        Dictionary<string, double> before = ScrapeOf(server);
        Assert.Equal(Clients * PerClient, before["pixelping_hits_total"]);
        Assert.Equal(Clients * PerClient + 3, before["pixelping_requests_total{code=\"200\"}"]);
        Assert.Equal(1, before["pixelping_requests_total{code=\"404\"}"]);
        Assert.Equal(1, before["pixelping_requests_total{code=\"405\"}"]);
        Assert.Equal(1, before["pixelping_requests_total{code=\"505\"}"]);
        Assert.Equal(0, before["pixelping_requests_total{code=\"400\"}"]);
        Assert.Equal(1, before["pixelping_refused_hits_total{reason=\"maxkeys\"}"]);
        Assert.Equal(1, before["pixelping_refused_hits_total{reason=\"maxkeylength\"}"]);
        Assert.Equal(3, before["pixelping_keys"]);
        Assert.Equal(Clients + 2, before["pixelping_connections_total"]);
        Assert.Equal(0, before["pixelping_connections_refused_total"]);
        Assert.Equal(0, before["pixelping_flushes_total{result=\"success\"}"]);
        Assert.Equal(0, before["pixelping_last_flush_success_timestamp_seconds"]);
        Assert.DoesNotContain("pixelping_tls_handshakes_total{result=\"success\"}", before.Keys);
    }

    [Fact]
    public async Task Flushes_and_flushed_hits_follow_the_endpoint()
    {
        await using var receiver = new EndpointReceiver();
        await using InProcessServer server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600) with
        {
            Status = new IPEndPoint(IPAddress.Loopback, 0),
        });
        using (var client = new RawHttpClient(server.Port))
        {
            for (int i = 0; i < 30; i++)
            {
                Assert.Equal(200, client.Request($"/pixel.gif?key=k{i % 3}").Status);
            }
        }

        Dictionary<string, double> before = ScrapeOf(server);
        Assert.Equal(0, before["pixelping_flushes_total{result=\"success\"}"]);
        Assert.Equal(0, before["pixelping_last_flush_success_timestamp_seconds"]);
        Assert.Equal(3, before["pixelping_keys"]);

        double flushedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Assert.True(await server.Server.Flusher.FlushAsync());
        Dictionary<string, double> after = ScrapeOf(server);
        Assert.Equal(1, after["pixelping_flushes_total{result=\"success\"}"]);
        Assert.Equal(0, after["pixelping_flushes_total{result=\"failure\"}"]);
        Assert.Equal(30, after["pixelping_flushed_hits_total"]);
        Assert.Equal(receiver.TotalHits, after["pixelping_flushed_hits_total"]);
        Assert.Equal(0, after["pixelping_keys"]);
        Assert.Equal(0, after["pixelping_pending_batches"]);
        Assert.InRange(after["pixelping_last_flush_success_timestamp_seconds"], flushedAt - 1, flushedAt + 60);
        // Counters never go back: the flush emptied the store, not the totals.
        Assert.Equal(before["pixelping_hits_total"], after["pixelping_hits_total"]);
    }

    [Fact]
    public async Task Hits_the_filters_ignore_are_counted_by_reason_and_not_as_hits()
    {
        await using InProcessServer server = InProcessServer.Start(InProcessServer.Defaults(null, intervalSeconds: 3600) with
        {
            Status = new IPEndPoint(IPAddress.Loopback, 0),
            IgnoreBots = true,
        });
        using (var client = new RawHttpClient(server.Port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=crawled", "User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)\r\n").Status);
            Assert.Equal(200, client.Request("/pixel.gif?key=read", "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n").Status);
        }

        Dictionary<string, double> samples = ScrapeOf(server);
        Assert.Equal(1, samples["pixelping_ignored_hits_total{reason=\"bot\"}"]);
        Assert.Equal(0, samples["pixelping_ignored_hits_total{reason=\"prefetch\"}"]);
        Assert.Equal(1, samples["pixelping_hits_total"]);
    }

    [Fact]
    public async Task A_failed_flush_is_counted_and_its_batch_is_pending_and_in_the_spool()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        string spool = Path.Combine(TempDir.Create(), "spool");
        await using InProcessServer server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600) with
        {
            Status = new IPEndPoint(IPAddress.Loopback, 0),
            Spool = spool,
        });
        Assert.Equal(0, ScrapeOf(server)["pixelping_spool_bytes"]);
        using (var client = new RawHttpClient(server.Port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=kept").Status);
        }

        Assert.False(await server.Server.Flusher.FlushAsync());
        Dictionary<string, double> samples = ScrapeOf(server);
        Assert.Equal(1, samples["pixelping_flushes_total{result=\"failure\"}"]);
        Assert.Equal(0, samples["pixelping_flushes_total{result=\"success\"}"]);
        Assert.Equal(0, samples["pixelping_flushed_hits_total"]);
        Assert.Equal(1, samples["pixelping_pending_batches"]);
        Assert.Equal(new FileInfo(spool).Length, samples["pixelping_spool_bytes"]);
        Assert.True(samples["pixelping_spool_bytes"] > 0);
    }

    [Fact]
    public async Task A_flush_whose_send_throws_is_a_failure_and_its_batch_stays_pending_without_a_spool()
    {
        // A host name of 304 characters, set past the config reader (which refuses it): the resolver throws for it.
        string host = string.Join('.', Enumerable.Repeat(new string('a', 60), 5));
        await using InProcessServer server = InProcessServer.Start(InProcessServer.Defaults(null, intervalSeconds: 3600) with
        {
            Status = new IPEndPoint(IPAddress.Loopback, 0),
            Endpoint = InProcessServer.Http($"http://{host}/hits"),
        });
        using (var client = new RawHttpClient(server.Port))
        {
            for (int i = 0; i < 15; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=kept").Status);
            }
        }

        Assert.False(await server.Server.Flusher.FlushAsync());
        Dictionary<string, double> samples = ScrapeOf(server);
        Assert.Equal(1, samples["pixelping_flushes_total{result=\"failure\"}"]);
        Assert.Equal(1, samples["pixelping_pending_batches"]);
        Assert.Equal(15, server.Server.Flusher.Kept?.Hits);
    }

    [Fact]
    public async Task Over_TLS_handshakes_are_counted_by_result_and_the_certificate_expiry_is_reported()
    {
        string dir = TempDir.Create();
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        ServerFiles files = TestPki.Shared.WriteServerFiles(dir, leaf);
        await using InProcessServer server = InProcessServer.Start(InProcessServer.Defaults(null, intervalSeconds: 3600) with
        {
            Status = new IPEndPoint(IPAddress.Loopback, 0),
            SslKey = files.Key,
            SslCert = files.Cert,
            SslCa = files.Ca,
        });
        using (RawHttpClient client = RawHttpClient.ConnectTls(server.Port, [TestPki.Shared.Root]))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=tls").Status);
        }

        using (var plain = new RawHttpClient(server.Port))
        {
            // Plain HTTP to the HTTPS port: a failed handshake.
            plain.Send(RawHttpClient.Get("/pixel.gif?key=plain"));
            Assert.True(plain.IsClosedByServer());
        }

        Dictionary<string, double> samples = ScrapeOf(server);
        Assert.Equal(1, samples["pixelping_tls_handshakes_total{result=\"success\"}"]);
        Assert.Equal(1, samples["pixelping_tls_handshakes_total{result=\"failure\"}"]);
        Assert.Equal(new DateTimeOffset(leaf.NotAfter.ToUniversalTime()).ToUnixTimeSeconds(), samples["pixelping_certificate_expiry_timestamp_seconds"]);
        Assert.Equal(1, samples["pixelping_hits_total"]);
    }
}
