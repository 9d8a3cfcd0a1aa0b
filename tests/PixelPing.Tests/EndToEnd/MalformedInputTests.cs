using System.Diagnostics;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>One published executable for the whole table, flushing on SIGUSR2 to a receiver.</summary>
[Trait("Kind", "External")]
public sealed class MalformedInputServer : IAsyncLifetime
{
    public EndpointReceiver Receiver { get; } = new();

    public ServerProcess Server { get; private set; } = null!;

    public int Port { get; private set; }

    public Task InitializeAsync()
    {
        Server = ServerProcess.StartWithConfig(
            $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{Receiver.Url}}", "log": false }""", out int port);
        Port = port;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        Server.Signal(ServerProcess.SIGTERM);
        Server.WaitForExit(TimeSpan.FromSeconds(20));
        Server.Dispose();
        await Receiver.DisposeAsync();
    }
}

/// <summary>
/// A table of hostile and malformed requests against the running executable (default limits): each gets its
/// documented status, an error closes the connection after its answer, anything else leaves the connection in step
/// for the next request, and only the hits the table expects are counted.
/// </summary>
public sealed class MalformedInputTests(MalformedInputServer fixture) : IClassFixture<MalformedInputServer>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private const string Tls = "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003\u00a1\u00b2\u00c3\u0000\u00ff\r\n\r\n";

    // Request text (Latin-1: one char per byte; {id} is replaced by the row's id), the status, whether the server
    // closes the connection after answering, and the key it must count (null: none).
    public static TheoryData<string, string, int, bool, string?> Rows => new()
    {
        { "NUL byte in the request line", "GET /pixel.gif?key={id}\0x HTTP/1.1\r\nHost: x\r\n\r\n", 400, true, null },
        { "NUL byte in a header value", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400, true, null },
        { "percent-encoded NUL in the key", "GET /pixel.gif?key={id}%00x HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, "{id}\0x" },
        { "bare LF line endings", "GET /pixel.gif?key={id} HTTP/1.1\nHost: x\n\n", 400, true, null },
        { "bare LF after one header", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400, true, null },
        { "bare CR", "GET /pixel.gif?key={id} HTTP/1.1\rHost: x\r\n\r\n", 400, true, null },
        { "obs-fold", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\n\r\n", 400, true, null },
        { "whitespace before a colon", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost : x\r\n\r\n", 400, true, null },
        { "huge header over maxheaderbytes", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nX-Big: " + new string('b', 20000) + "\r\n\r\n", 431, true, null },
        { "too many header lines", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Repeat("X-N: v\r\n", 150)) + "\r\n", 431, true, null },
        { "100k-byte key", "GET /pixel.gif?key={id}" + new string('k', 100_000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, true, null },
        { "key over maxkeylength: pixel served, hit refused", "GET /pixel.gif?key={id}" + new string('k', 2000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, null },
        { "invalid percent sequences", "GET /pixel.gif?key={id}%zz%4%+%%41 HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, "{id}%zz%4% %A" },
        { "invalid UTF-8 in escapes", "GET /pixel.gif?key={id}%FF%C3%28%ED%A0%80 HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, "{id}\uFFFD\uFFFD(\uFFFD\uFFFD\uFFFD" },
        { "raw UTF-8 in the target", "GET /pixel.gif?key={id}\u00c3\u00a9 HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, "{id}\u00e9" },
        { "TLS ClientHello on the plain port", Tls, 400, true, null },
        { "HTTP/2 connection preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, true, null },
        { "HTTP/2.0 as the version", "GET /pixel.gif?key={id} HTTP/2.0\r\nHost: x\r\n\r\n", 505, true, null },
        { "HTTP/0.9 request", "GET /pixel.gif?key={id}\r\n\r\n", 400, true, null },
        { "Content-Length with Transfer-Encoding", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true, null },
        { "Transfer-Encoding with Content-Length", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, true, null },
        { "duplicate Content-Length, same value", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400, true, null },
        { "duplicate Content-Length, different values", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc", 400, true, null },
        { "Content-Length as a list", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400, true, null },
        { "Content-Length with a sign", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400, true, null },
        { "Content-Length over maxbodybytes", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n", 413, true, null },
        { "Transfer-Encoding alone", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, true, null },
        { "request smuggled in a body", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nContent-Length: {bodylength}\r\n\r\nGET /pixel.gif?key=smuggled-{id} HTTP/1.1\r\nHost: x\r\n\r\n", 200, false, "{id}" },
        { "missing Host", "GET /pixel.gif?key={id} HTTP/1.1\r\n\r\n", 400, true, null },
        { "two Host headers", "GET /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400, true, null },
        { "lower-case method", "get /pixel.gif?key={id} HTTP/1.1\r\nHost: x\r\n\r\n", 405, false, null },
        { "control byte in the target", "GET /pixel.gif?key={id}\u0001 HTTP/1.1\r\nHost: x\r\n\r\n", 400, true, null },
        { "space inside the target", "GET /pixel.gif?key={id} x HTTP/1.1\r\nHost: x\r\n\r\n", 400, true, null },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Each_malformed_request_gets_its_status_and_leaves_the_connection_in_a_correct_state(
        string name, string request, int status, bool closes, string? counted)
    {
        string id = "row" + Math.Abs(StringComparer.Ordinal.GetHashCode(name) % 100000).ToString("D5", System.Globalization.CultureInfo.InvariantCulture);
        request = request.Replace("{id}", id, StringComparison.Ordinal);
        int headEnd = request.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        request = request.Replace("{bodylength}", (request.Length - headEnd - 4).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        counted = counted?.Replace("{id}", id, StringComparison.Ordinal);
        int refusedBefore = RefusedTooLong();
        using (var client = new RawHttpClient(fixture.Port))
        {
            client.Send(request);
            RawResponse response = client.Read(head: request.StartsWith("HEAD", StringComparison.Ordinal));
            Assert.Equal(status, response.Status);
            if (closes)
            {
                Assert.Equal("close", response.Header("Connection"));
                Assert.True(client.IsClosedByServer(), $"{name}: the connection stayed open after a {status}");
            }
            else
            {
                // In step: the next request on the same connection is read from the right place and answered.
                RawResponse next = client.Request($"/pixel.gif?key={id}-next");
                Assert.Equal(200, next.Status);
                Assert.Equal(43, next.Body.Length);
            }
        }

        // Flush everything counted so far: a sentinel hit, SIGUSR2, and wait for the sentinel to arrive.
        using (var client = new RawHttpClient(fixture.Port))
        {
            Assert.Equal(200, client.Request($"/pixel.gif?key={id}-sentinel").Status);
        }

        fixture.Server.Signal(ServerProcess.SIGUSR2);
        var clock = Stopwatch.StartNew();
        while (!fixture.Receiver.Totals.ContainsKey($"{id}-sentinel"))
        {
            Assert.True(clock.Elapsed < Deadline, "the sentinel hit was not flushed");
            await Task.Delay(10);
        }

        var mine = fixture.Receiver.Totals.Where(p => p.Key.Contains(id, StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value);
        var expected = new Dictionary<string, long> { [$"{id}-sentinel"] = 1 };
        if (!closes)
        {
            expected[$"{id}-next"] = 1;
        }

        if (counted is not null)
        {
            expected[counted] = 1;
        }

        Assert.Equal(expected, mine);
        if (name.StartsWith("key over maxkeylength", StringComparison.Ordinal))
        {
            Assert.Equal(refusedBefore + 1, RefusedTooLong());
        }

        Assert.DoesNotContain(fixture.Server.Stderr, l => l.StartsWith("--- connection error", StringComparison.Ordinal));
        Assert.False(fixture.Server.HasExited);
    }

    private int RefusedTooLong() => fixture.Server.Stderr
        .Where(l => l.StartsWith("--- refused ", StringComparison.Ordinal))
        .Sum(l => int.Parse(l.Split(", ")[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
}
