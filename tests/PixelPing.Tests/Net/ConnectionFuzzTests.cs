using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PixelPing.Counting;
using PixelPing.Http;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.Net;

/// <summary>
/// Mutation fuzzing of the whole connection path (socket, buffer handling, parser, key decoder, store) through the
/// in-process server: each input is sent on its own connection, in random pieces, and the answers must be exactly
/// those a model built from the request parser predicts: a status or a pixel for every complete request, in order,
/// nothing after an error, the connection closed at the end, and the hits counted as the key decoder reads them.
/// </summary>
public sealed class ConnectionFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int MaxKeyLength = 64;
    private readonly EndpointReceiver _receiver = new();
    private InProcessServer _server = null!;

    private static readonly string[] s_seeds =
    [
        "GET /pixel.gif?key=document:42 HTTP/1.1\r\nHost: stats.example.org\r\n\r\n",
        "HEAD /pixel.gif?key=caf%C3%A9+au+lait HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
        "GET /pixel.gif?x=1&key=a%zz%4%&key=b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET http://h:1/pixel.gif?k%65y=%F0%9F%98%80#frag HTTP/1.1\r\nHost: h:1\r\n\r\n",
        "POST /pixel.gif?key=posted HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        "GET /pixel.gif?key=with-body HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
        "GET /other?key=nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "GET /pixel.gif?key=" + new string('L', 80) + " HTTP/1.1\r\nHost: h\r\n\r\n",
        "\r\nGET /pixel.gif?key=%00%01%22%5C HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /pixel.gif?key=te HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ];

    private static readonly byte[][] s_splices =
    [
        .. new[]
        {
            "\r\n", "\n", "\r\n\r\n", "Content-Length: 7\r\n", "Content-Length: 999\r\n", "Content-Length: 0\r\n", "Transfer-Encoding: chunked\r\n",
            "Connection: close\r\n", "Connection: keep-alive\r\n", "Host: x\r\n", " folded\r\n", "%", "key=", "&key=", "+",
            "GET /pixel.gif?key=pipelined HTTP/1.1\r\nHost: p\r\n\r\n", "HEAD /pixel.gif HTTP/1.0\r\n\r\n",
            new string('k', 700), "X-Long: " + new string('v', 700) + "\r\n",
        }.Select(Encoding.Latin1.GetBytes),
    ];

    private static readonly byte[] s_interesting = Encoding.Latin1.GetBytes(" \t\r\n:/?#&=%+*.,0123456789HTTPhttpkey\0\u007f\u0080\u00c3\u00ff");

    public Task InitializeAsync()
    {
        _server = InProcessServer.Start(InProcessServer.Defaults(_receiver, intervalSeconds: 3600) with
        {
            MaxKeyLength = MaxKeyLength,
            MaxRequestLine = 512,
            MaxHeaderBytes = 600,
            MaxHeaderCount = 20,
            MaxBodyBytes = 16,
            HeaderTimeout = TimeSpan.FromSeconds(10),
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    [Fact]
    public async Task Every_input_gets_exactly_the_answers_the_parser_predicts_and_only_the_hits_it_predicts()
    {
        int seed = Fuzz.Seed(20240613);
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        HttpLimits limits = _server.Server.Context.Limits.Http;
        var expectedCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        var statuses = new HashSet<int>();
        var clock = Stopwatch.StartNew();
        TimeSpan budget = Fuzz.Budget(TimeSpan.FromSeconds(3));
        int inputs = 0;
        var required = new HashSet<int> { 200, 400, 404, 405, 413, 414, 431, 501, 505 };
        // The budget, stretched (up to five times) on a slow machine until every kind of answer has come up.
        while ((Fuzz.Long || inputs < 20_000) &&
            (clock.Elapsed < budget || (!statuses.IsSupersetOf(required) && clock.Elapsed < budget * 5)))
        {
            inputs++;
            // One to three requests back to back, each mutated or not.
            var input = new List<byte>();
            int requests = random.Next(1, 4);
            for (int r = 0; r < requests; r++)
            {
                byte[] seedBytes = Encoding.Latin1.GetBytes(s_seeds[random.Next(s_seeds.Length)]);
                input.AddRange(random.Next(3) == 0 ? seedBytes : Fuzz.Mutate(random, seedBytes, s_interesting, s_splices));
            }

            byte[] bytes = [.. input];
            List<(int Status, bool Head)> expected = Model(bytes, limits, expectedCounts);
            List<int> actual = await ExchangeAsync(bytes, expected, random);
            string context = $"seed {seed}, input {inputs}: {Convert.ToHexString(bytes)}";
            Assert.True(expected.Select(e => e.Status).SequenceEqual(actual),
                $"{context}\nexpected [{string.Join(", ", expected.Select(e => e.Status))}], got [{string.Join(", ", actual)}]");
            statuses.UnionWith(actual);
        }

        output.WriteLine($"{inputs} inputs, statuses seen: {string.Join(", ", statuses.Order())}");
        Assert.Equal(0, _server.Server.Context.Stats.Read().Errors);
        Assert.True(await _server.Server.Flusher.FlushAsync(), "the endpoint did not take the flush");
        IReadOnlyDictionary<string, long> counted = _receiver.Totals;
        Assert.Equal(expectedCounts.OrderBy(p => p.Key, StringComparer.Ordinal), counted.OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Superset(required, statuses);
    }

    /// <summary>What the connection must answer, derived from the parser alone (Connection.Process in miniature).</summary>
    private static List<(int Status, bool Head)> Model(byte[] input, HttpLimits limits, Dictionary<string, long> counts)
    {
        var answers = new List<(int, bool)>();
        int position = 0;
        while (position < input.Length)
        {
            ParsedRequest request = new RequestParser().Parse(input.AsSpan(position), limits);
            if (request.Status == ParseStatus.Incomplete)
            {
                break;
            }

            if (request.Status == ParseStatus.Error)
            {
                answers.Add((request.Rejection.Status(), false));
                break;
            }

            int status = !request.IsPixel ? 404 : request.Method == RequestMethod.Other ? 405 : 200;
            answers.Add((status, request.Method == RequestMethod.Head));
            if (status == 200 && request.QueryLength > 0)
            {
                byte[] key = new byte[MaxKeyLength];
                if (KeyDecoder.Decode(input.AsSpan(position + request.QueryStart, request.QueryLength), key, out int written) == KeyStatus.Found)
                {
                    string text = Encoding.UTF8.GetString(key, 0, written);
                    counts[text] = counts.GetValueOrDefault(text) + 1;
                }
            }

            position += request.HeadLength + (int)request.ContentLength;
            if (!request.KeepAlive)
            {
                break;
            }
        }

        return answers;
    }

    /// <summary>Sends the input in random pieces, closes the sending side, and reads every answer up to the server's close.</summary>
    private async Task<List<int>> ExchangeAsync(byte[] input, List<(int Status, bool Head)> expected, Random random)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _server.Port));
        int sent = 0;
        try
        {
            while (sent < input.Length)
            {
                int piece = random.Next(2) == 0 ? input.Length - sent : random.Next(1, input.Length - sent + 1);
                sent += await socket.SendAsync(input.AsMemory(sent, piece), SocketFlags.None);
            }

            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The server answered an error and closed before reading everything: the answers are still readable.
        }

        var received = new List<byte>();
        byte[] buffer = new byte[8192];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
                if (n == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (SocketException)
        {
            // A reset after the last answer (the server closed with input unread).
        }

        Assert.False(deadline.IsCancellationRequested, "the server did not close the connection");
        return ParseAnswers([.. received], expected);
    }

    private static List<int> ParseAnswers(byte[] data, List<(int Status, bool Head)> expected)
    {
        var statuses = new List<int>();
        int position = 0;
        while (position < data.Length)
        {
            int headEnd = data.AsSpan(position).IndexOf("\r\n\r\n"u8);
            Assert.True(headEnd >= 0, "an incomplete answer: " + Encoding.Latin1.GetString(data, position, data.Length - position));
            string head = Encoding.Latin1.GetString(data, position, headEnd);
            int status = int.Parse(head.AsSpan(9, 3));
            var response = new RawResponse(status, head, []);
            bool headRequest = statuses.Count < expected.Count && expected[statuses.Count].Head;
            int length = headRequest && status == 200 ? 0 : int.Parse(response.Header("Content-Length") ?? "0");
            statuses.Add(status);
            position += headEnd + 4 + length;
        }

        Assert.Equal(data.Length, position);
        return statuses;
    }
}
