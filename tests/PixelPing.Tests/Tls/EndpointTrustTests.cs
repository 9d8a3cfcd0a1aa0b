using System.Security.Cryptography.X509Certificates;
using System.Text;
using PixelPing.Config;
using PixelPing.Flushing;
using PixelPing.Tests.Support;
using PixelPing.Tls;

namespace PixelPing.Tests.Tls;

/// <summary>
/// Flushing to an HTTPS endpoint: the chain and host name are verified, against <c>endpointca</c> when it is set and
/// the system trust store otherwise; a refused certificate is a failed flush whose batch is kept and sent again.
/// </summary>
public sealed class EndpointTrustTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private static readonly TestPki Pki = TestPki.Shared;
    private static readonly Lazy<TestPki> s_stranger = new(() => new TestPki("Pixel Ping Stranger"));

    // A one-key batch posted the way the flusher posts: its pieces and their total length.
    private static Task<FlushOutcome> Post(EndpointClient client, string key, long count = 1)
    {
        var batch = new Batch("test-" + key, [new(Encoding.UTF8.GetBytes(key), count)]);
        long length = BatchEncoder.EncodeBodyChunks(batch, null).Sum(piece => (long)piece.Length);
        return client.PostAsync(length, BatchEncoder.EncodeBodyChunks(batch, null), null, CancellationToken.None);
    }

    private static EndpointClient TrustingTestRoot(EndpointReceiver receiver) =>
        new(new Uri(receiver.Url), Timeout, EndpointTrust.TrustOnly([Pki.Root]));

    [Fact]
    public async Task A_receiver_whose_chain_ends_in_endpointca_gets_the_flush_with_path_and_query()
    {
        using X509Certificate2 leaf = Pki.IssueLeaf();
        await using var receiver = new EndpointReceiver(leaf, Pki.Intermediate);

        FlushOutcome outcome = await Post(TrustingTestRoot(receiver), "trusted", 3);

        Assert.True(outcome.Result == FlushResult.Delivered, outcome.Reason);
        ReceivedFlush flush = Assert.Single(receiver.Received);
        Assert.Equal("/hits?site=test", flush.Target);
        Assert.Equal($"127.0.0.1:{receiver.Port}", flush.Headers["Host"]);
        Assert.Equal(3, receiver.Totals["trusted"]);
    }

    [Fact]
    public async Task A_host_name_endpoint_verifies_against_its_dns_name()
    {
        using X509Certificate2 leaf = Pki.IssueLeaf(dnsNames: ["localhost"], addresses: []);
        await using var receiver = new EndpointReceiver(leaf, Pki.Intermediate) { Host = "localhost" };

        FlushOutcome outcome = await Post(TrustingTestRoot(receiver), "by-name");

        Assert.True(outcome.Result == FlushResult.Delivered, outcome.Reason);
        Assert.Equal(1, receiver.TotalHits);
    }

    [Fact]
    public async Task A_certificate_from_another_ca_is_refused()
    {
        using X509Certificate2 leaf = s_stranger.Value.IssueLeaf();
        await using var receiver = new EndpointReceiver(leaf, s_stranger.Value.Intermediate);

        FlushOutcome outcome = await Post(TrustingTestRoot(receiver), "stranger");

        Assert.Equal(FlushResult.ConnectError, outcome.Result);
        // The stranger's root is neither sent nor trusted, so the chain stops at its intermediate.
        Assert.Equal("TLS certificate verification failed: certificate not trusted: its issuer is unknown " +
            "(a missing intermediate, or a CA that is not trusted)", outcome.Reason);
        Assert.Equal(0, receiver.Requests);
    }

    [Fact]
    public async Task The_system_trust_store_is_used_without_endpointca()
    {
        // The test CA is in no system store: without endpointca the same receiver must be refused.
        using X509Certificate2 leaf = Pki.IssueLeaf();
        await using var receiver = new EndpointReceiver(leaf, Pki.Intermediate);

        FlushOutcome outcome = await Post(new EndpointClient(new Uri(receiver.Url), Timeout), "system");

        Assert.Equal(FlushResult.ConnectError, outcome.Result);
        Assert.StartsWith("TLS certificate verification failed: certificate not trusted", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(0, receiver.Requests);
    }

    [Fact]
    public async Task The_host_name_is_checked_even_with_a_trusted_chain()
    {
        using X509Certificate2 leaf = Pki.IssueLeaf(commonName: "other.example", dnsNames: ["other.example"], addresses: []);
        await using var receiver = new EndpointReceiver(leaf, Pki.Intermediate);

        FlushOutcome outcome = await Post(TrustingTestRoot(receiver), "misnamed");

        Assert.Equal(FlushResult.ConnectError, outcome.Result);
        Assert.Equal("TLS certificate verification failed: the certificate is not valid for the host name 127.0.0.1", outcome.Reason);
    }

    [Fact]
    public async Task A_receiver_that_does_not_send_its_intermediate_is_refused()
    {
        using X509Certificate2 leaf = Pki.IssueLeaf();
        await using var receiver = new EndpointReceiver(leaf);

        FlushOutcome outcome = await Post(TrustingTestRoot(receiver), "no-chain");

        Assert.Equal(FlushResult.ConnectError, outcome.Result);
        Assert.Contains("its issuer is unknown", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_receiver_certificate_is_refused()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 leaf = Pki.IssueLeaf(notBefore: now.AddDays(-10), notAfter: now.AddDays(-1));
        await using var receiver = new EndpointReceiver(leaf, Pki.Intermediate);

        FlushOutcome outcome = await Post(TrustingTestRoot(receiver), "expired");

        Assert.Equal(FlushResult.ConnectError, outcome.Result);
        Assert.Contains("has expired or is not valid yet", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plain_http_server_behind_an_https_url_is_a_handshake_failure()
    {
        // A plain pixel-ping answers the ClientHello with a 400, as any HTTP server would.
        await using InProcessServer plain = InProcessServer.Start(InProcessServer.Defaults());
        var client = new EndpointClient(new Uri($"https://127.0.0.1:{plain.Port}/hits"), Timeout, EndpointTrust.TrustOnly([Pki.Root]));

        FlushOutcome outcome = await Post(client, "plain");

        Assert.Equal(FlushResult.ConnectError, outcome.Result);
        Assert.Equal("TLS handshake failed: the endpoint does not speak TLS on this port (a plain http:// server?)", outcome.Reason);
    }

    [Fact]
    public async Task A_refused_certificate_keeps_the_batch_and_it_is_sent_unchanged_once_the_receiver_is_fixed()
    {
        using X509Certificate2 wrong = s_stranger.Value.IssueLeaf();
        using X509Certificate2 right = Pki.IssueLeaf();
        await using var receiver = new EndpointReceiver(wrong, s_stranger.Value.Intermediate);
        string dir = TempDir.Create();
        string ca = Path.Combine(dir, "endpoint-ca.pem");
        TestPki.WriteCertificates(ca, Pki.Root);
        await using InProcessServer server = InProcessServer.Start(InProcessServer.Defaults(receiver, intervalSeconds: 3600) with { EndpointCa = ca });
        using (var client = new RawHttpClient(server.Port))
        {
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=kept").Status);
            }
        }

        Assert.False(await server.Server.Flusher.FlushAsync());
        Batch kept = Assert.IsType<Batch>(server.Server.Flusher.Kept);
        // The body it must be sent with; a copy, since the flusher clears a batch's entries once it is delivered.
        byte[] body = [.. BatchEncoder.EncodeBodyChunks(kept, null).SelectMany(piece => piece.ToArray())];
        Assert.Equal(0, receiver.Requests);

        receiver.UseCertificate(right, Pki.Intermediate);
        Assert.True(await server.Server.Flusher.FlushAsync());

        ReceivedFlush flush = Assert.Single(receiver.Received);
        Assert.Equal(kept.Id, flush.Form["batch"]);
        Assert.Equal(body, flush.Body);
        Assert.Equal(4, receiver.Totals["kept"]);
        Assert.Null(server.Server.Flusher.Kept);
    }

    [Fact]
    public void A_missing_endpointca_file_stops_the_start_with_one_line()
    {
        Settings settings = InProcessServer.Defaults() with
        {
            Endpoint = InProcessServer.Http("https://127.0.0.1:9/hits"),
            EndpointCa = "/nonexistent/ca.pem",
        };

        Assert.Null(PixelPing.Server.TryCreate(settings, out string error));
        Assert.Equal("test.json: \"endpointca\" /nonexistent/ca.pem: no such file or directory", error);
    }

    [Theory]
    [InlineData("/a/b?c=d&e", "/a/b?c=d&e")]
    [InlineData("", "/")]
    [InlineData("/", "/")]
    [InlineData("?x=1", "/?x=1")]
    public async Task The_request_keeps_path_and_query_and_names_a_port_that_is_not_the_default(string pathAndQuery, string target)
    {
        await using var receiver = new EndpointReceiver();

        FlushOutcome outcome = await Post(new EndpointClient(new Uri($"http://127.0.0.1:{receiver.Port}{pathAndQuery}"), Timeout), "path");

        Assert.True(outcome.Result == FlushResult.Delivered, outcome.Reason);
        ReceivedFlush flush = Assert.Single(receiver.Received);
        Assert.Equal(target, flush.Target);
        Assert.Equal($"127.0.0.1:{receiver.Port}", flush.Headers["Host"]);
    }
}
