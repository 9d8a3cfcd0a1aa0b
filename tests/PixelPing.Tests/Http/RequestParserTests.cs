using System.Diagnostics;
using System.Text;
using PixelPing.Http;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.Http;

public sealed class RequestParserTests(ITestOutputHelper output)
{
    private readonly ITestOutputHelper _output = output;

    private static readonly int[] s_errorStatuses = [400, 413, 414, 431, 501, 505];

    // Latin-1 maps chars U+0000..U+00FF one-to-one onto bytes, so a test string can hold any byte value.
    private static byte[] Bytes(string s) => Encoding.Latin1.GetBytes(s);

    private static ParsedRequest Parse(string s) => new RequestParser().Parse(Bytes(s), HttpLimits.Default);

    private static ParsedRequest Parse(byte[] b, HttpLimits limits) => new RequestParser().Parse(b, limits);

    private static string? Query(byte[] input, ParsedRequest r) =>
        r.QueryStart == 0 ? null : Encoding.Latin1.GetString(input, r.QueryStart, r.QueryLength);

    private static void AssertError(int expected, ParsedRequest r)
    {
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Equal(expected, r.Rejection.Status());
    }

    private static RequestMethod MethodOf(string name) => name switch
    {
        "Get" => RequestMethod.Get,
        "Head" => RequestMethod.Head,
        _ => RequestMethod.Other,
    };

    // RFC 9110 §5.6.2, written out again here so that the tests do not share the parser's table.
    private static bool IsTchar(int b) =>
        b is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
        || "!#$%&'*+-.^_`|~".Contains((char)b, StringComparison.Ordinal);

    // ---------------------------------------------------------------- valid requests, every prefix

    [Theory]
    [InlineData("GET /pixel.gif?key=document:42 HTTP/1.1\r\nHost: stats.example.org\r\n\r\n", "",
        "Get", true, "key=document:42", true, false, 0L)]
    [InlineData("HEAD /pixel.gif HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0 (X11; Linux) \u00e9t\u00e9\r\nAccept: */*\r\n"
        + "Referer: https://example.org/a?b#c\r\nConnection: close\r\n\r\n", "",
        "Head", true, null, false, false, 0L)]
    [InlineData("GET /pixel.gif?key=a+b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "",
        "Get", true, "key=a+b", true, true, 0L)]
    [InlineData("GET /pixel.gif?key=a HTTP/1.0\r\n\r\n", "", "Get", true, "key=a", false, true, 0L)]
    [InlineData("GET http://stats.example.org:9187/pixel.gif?key=x#frag HTTP/1.1\r\nHost: stats.example.org:9187\r\n\r\n", "",
        "Get", true, "key=x", true, false, 0L)]
    [InlineData("GET HTTPS://[::1]:443?key=z HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", "", "Get", false, "key=z", true, false, 0L)]
    [InlineData("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n", "", "Get", false, null, true, false, 0L)]
    [InlineData("POST /pixel.gif?key=y HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", "hello",
        "Other", true, "key=y", true, false, 5L)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 000\r\n\r\n", "", "Get", true, null, true, false, 0L)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\ncontent-length:\t65536 \r\n\r\n", "", "Get", true, null, true, false, 65536L)]
    [InlineData("\r\n\r\nGET /other?key=1 HTTP/1.1\r\nHost: h\r\n\r\n", "", "Get", false, "key=1", true, false, 0L)]
    [InlineData("GET /pixel.gif?#x HTTP/1.1\r\nhOsT:\t h \t\r\nX-Empty:\r\n\r\n", "", "Get", true, "", true, false, 0L)]
    [InlineData("GET /pixel.gif#x?key=no HTTP/1.1\r\nHost:\r\n\r\n", "", "Get", true, null, true, false, 0L)]
    [InlineData("get /pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", "", "Other", true, null, true, false, 0L)]
    [InlineData("M-SEARCH /pixel.gif?k=%E2%9C%93&x=\u00e2\u009c\u0093 HTTP/1.1\r\nHost: h\r\n\r\n", "",
        "Other", true, "k=%E2%9C%93&x=\u00e2\u009c\u0093", true, false, 0L)]
    public void EveryPrefixIsIncompleteAndTheWholeHeadIsComplete(
        string head, string body, string method, bool isPixel, string? query, bool keepAlive, bool isHttp10, long contentLength)
    {
        byte[] full = Bytes(head + body + "GARBAGE");
        var trickled = new RequestParser();
        for (int n = 0; n < head.Length; n++)
        {
            ParsedRequest prefix = Parse(full[..n], HttpLimits.Default);
            Assert.True(prefix.Status == ParseStatus.Incomplete, $"prefix of {n} bytes: {prefix.Status} {prefix.Rejection}");
            Assert.Equal(prefix, trickled.Parse(full.AsSpan(0, n), HttpLimits.Default));
        }

        // One parser fed a byte more each time ends where a fresh parse of the whole head does.
        Assert.Equal(Parse(full[..head.Length], HttpLimits.Default), trickled.Parse(full.AsSpan(0, head.Length), HttpLimits.Default));

        // The head alone, the head with its body, and the head with more bytes after it all parse the same.
        foreach (int length in new[] { head.Length, head.Length + body.Length, full.Length })
        {
            byte[] input = full[..length];
            ParsedRequest r = Parse(input, HttpLimits.Default);
            Assert.Equal(ParseStatus.Complete, r.Status);
            Assert.Equal(0, r.Rejection.Status());
            Assert.Equal(head.Length, r.HeadLength);
            Assert.Equal(MethodOf(method), r.Method);
            Assert.Equal(isPixel, r.IsPixel);
            Assert.Equal(query, Query(input, r));
            if (query is null)
            {
                Assert.Equal(0, r.QueryLength);
            }

            Assert.Equal(keepAlive, r.KeepAlive);
            Assert.Equal(isHttp10, r.IsHttp10);
            Assert.Equal(contentLength, r.ContentLength);
        }
    }

    [Theory]
    [InlineData("/pixel.gif", true)]
    [InlineData("/pixel.gif?", true)]
    [InlineData("/pixel.gif#", true)]
    [InlineData("/pixel.gif/", false)]
    [InlineData("//pixel.gif", false)]
    [InlineData("/PIXEL.GIF", false)]
    [InlineData("/Pixel.gif", false)]
    [InlineData("/pixel.gi", false)]
    [InlineData("/pixel.gifx", false)]
    [InlineData("/pixel%2Egif", false)]
    [InlineData("/./pixel.gif", false)]
    [InlineData("/a/../pixel.gif", false)]
    [InlineData("/", false)]
    [InlineData("http://h/pixel.gif", true)]
    [InlineData("http://h//pixel.gif", false)]
    [InlineData("https://h:1/pixel.gif?x", true)]
    public void Is_pixel_only_for_the_exact_path(string target, bool isPixel)
    {
        ParsedRequest r = Parse($"GET {target} HTTP/1.1\r\nHost: h\r\n\r\n");
        Assert.Equal(ParseStatus.Complete, r.Status);
        Assert.Equal(isPixel, r.IsPixel);
    }

    [Theory]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n", "/metrics")]
    [InlineData("\r\n\r\nGET /livez?verbose#x HTTP/1.1\r\nHost: h\r\n\r\n", "/livez")]
    [InlineData("GET /readyz#top HTTP/1.1\r\nHost: h\r\n\r\n", "/readyz")]
    [InlineData("GET https://example.org:9188/metrics?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/metrics")]
    [InlineData("GET http://example.org HTTP/1.1\r\nHost: h\r\n\r\n", "")]
    public void Path_offsets_point_into_the_input(string head, string path)
    {
        byte[] input = Bytes(head);
        ParsedRequest r = Parse(input, HttpLimits.Default);
        Assert.Equal(ParseStatus.Complete, r.Status);
        Assert.Equal(path, Encoding.Latin1.GetString(input, r.PathStart, r.PathLength));
    }

    [Fact]
    public void Query_offsets_point_into_the_input()
    {
        byte[] input = Bytes("\r\nGET http://example.org/pixel.gif?key=a%20b&x=1#frag HTTP/1.1\r\nHost: example.org\r\n\r\n");
        ParsedRequest r = Parse(input, HttpLimits.Default);
        Assert.Equal(ParseStatus.Complete, r.Status);
        Assert.Equal((byte)'?', input[r.QueryStart - 1]);
        Assert.Equal("key=a%20b&x=1", Encoding.ASCII.GetString(input, r.QueryStart, r.QueryLength));
    }

    [Fact]
    public void Query_runs_to_the_end_of_the_target_and_keeps_later_question_marks()
    {
        byte[] input = Bytes("GET /pixel.gif?key=a?b=c HTTP/1.1\r\nHost: h\r\n\r\n");
        ParsedRequest r = Parse(input, HttpLimits.Default);
        Assert.Equal("key=a?b=c", Query(input, r));
    }

    // ---------------------------------------------------------------- pipelining

    [Fact]
    public void Pipelined_requests_parse_one_after_another()
    {
        byte[] buffer = Bytes(
            "GET /pixel.gif?key=1 HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /pixel.gif?key=2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nGET "
            + "HEAD /other?key=3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
            + "GET /pixel.gif?key=4 HTTP/1.1\r\nHo");

        var seen = new List<(RequestMethod Method, bool IsPixel, string? Query, bool KeepAlive)>();
        int offset = 0;
        while (true)
        {
            byte[] rest = buffer[offset..];
            ParsedRequest r = Parse(rest, HttpLimits.Default);
            if (r.Status != ParseStatus.Complete)
            {
                Assert.Equal(ParseStatus.Incomplete, r.Status);
                break;
            }

            seen.Add((r.Method, r.IsPixel, Query(rest, r), r.KeepAlive));
            offset += r.HeadLength + (int)r.ContentLength;
        }

        Assert.Equal(
            [
                (RequestMethod.Get, true, "key=1", true),
                (RequestMethod.Other, true, "key=2", true),
                (RequestMethod.Head, false, "key=3", false),
            ],
            seen);
        Assert.Equal("GET /pixel.gif?key=4 HTTP/1.1\r\nHo", Encoding.ASCII.GetString(buffer, offset, buffer.Length - offset));
    }

    // ---------------------------------------------------------------- malformed requests

    [Theory]
    // Line endings: bare LF anywhere, CR without LF.
    [InlineData("GET /pixel.gif HTTP/1.1\nHost: h\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\n\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\n\n\r\n", 400)]
    [InlineData("\nGET /pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("\r\rGET /pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\rHost: h\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\n\rX", 400)]
    // obs-fold and whitespace before the first field.
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400)]
    // Field names.
    [InlineData("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nNo Colon: x\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX(y): x\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.1\r\nHost: h\r\nX\u00e9: x\r\n\r\n", 400)]
    // Controls.
    [InlineData("GET /pix\0el.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\nX: a\u007fb\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\0\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET\t/pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    // Request-line shape.
    [InlineData("GET  /pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif  HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData(" GET /pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("G(T /pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif\r\n\r\n", 400)]
    [InlineData("GET\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1 \r\nHost: h\r\n\r\n", 400)]
    // Versions: malformed 400, well-formed but unsupported 505.
    [InlineData("GET / http/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/11\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/2\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505)]
    [InlineData("GET / HTTP/3.0\r\n\r\n", 505)]
    [InlineData("GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505)]
    [InlineData("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505)]
    // The HTTP/2 preface: its "*" target is refused before the version is read (first fault wins), so 400.
    [InlineData("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400)]
    // Targets.
    [InlineData("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET ftp://h/pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET http:/h/pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET http:///pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET http://?key=a HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET http://user@h/pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET http HTTP/1.1\r\nHost: h\r\n\r\n", 400)]
    [InlineData("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 400)]
    // Host.
    [InlineData("GET /pixel.gif HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nX-Host: h\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: a b\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: a/b\r\n\r\n", 400)]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: u@h\r\n\r\n", 400)]
    // Framing.
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 501)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\ntransfer-encoding: gzip, chunked\r\n\r\n", 501)]
    [InlineData("POST /pixel.gif HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 5,5\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 5.0\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n", 413)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n", 413)]
    [InlineData("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 0065537\r\n\r\n", 413)]
    public void MalformedRequestsGetTheirStatus(string request, int status)
    {
        AssertError(status, Parse(request));
    }

    [Theory]
    [InlineData("G@T")]
    [InlineData("GET *")]
    [InlineData("GET ftp:")]
    [InlineData("GET http://a@")]
    [InlineData("GET /pixel.gif HTTPS")]
    [InlineData("GET /pixel.gif HTTP/1.1 ")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost : ")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\n Host")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: a\r\nHost: b\r")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r")]
    [InlineData("GET /pixel.gif HTTP/2.0\r")]
    public void Garbage_is_refused_before_the_head_ends(string prefix)
    {
        ParsedRequest r = Parse(prefix);
        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Contains(r.Rejection.Status(), s_errorStatuses);
    }

    [Theory]
    [InlineData("GET /pixel.gif HTTP/1.1\r\n\r\n", "InvalidHost")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "InvalidHost")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: a b\r\n\r\n", "InvalidHost")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", "InvalidFraming")]
    [InlineData("GET /pixel.gif HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", "InvalidFraming")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", "TransferCodingNotSupported")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n", "BodyTooLarge")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost : h\r\n\r\n", "InvalidHeaderLine")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\r\n x\r\n\r\n", "InvalidHeaderLine")]
    [InlineData("GET /pixel.gif HTTP/1.1\r\nHost: h\rX", "InvalidHeaderLine")]
    [InlineData("GET  /pixel.gif HTTP/1.1\r\n", "InvalidRequestLine")]
    [InlineData("GET /pixel.gif HTTP/1.1\rX", "InvalidRequestLine")]
    [InlineData("\r\rGET", "InvalidRequestLine")]
    [InlineData("GET /pixel.gif HTTP/3.0\r", "VersionNotSupported")]
    public void Rejections_name_their_reason(string request, string reason)
    {
        ParsedRequest r = Parse(request);

        Assert.Equal(ParseStatus.Error, r.Status);
        Assert.Equal(reason, r.Rejection.ToString());
    }

    [Fact]
    public void Every_rejection_has_its_status_and_response()
    {
        Responses responses = Responses.Current;
        foreach (RequestRejection reason in Enum.GetValues<RequestRejection>().Where(r => r != RequestRejection.None))
        {
            int status = reason.Status();
            Assert.Contains(status, s_errorStatuses);
            string statusLine = Encoding.ASCII.GetString(responses.For(reason)).Split("\r\n")[0];
            Assert.StartsWith($"HTTP/1.1 {status} ", statusLine, StringComparison.Ordinal);
        }

        Assert.Equal(0, RequestRejection.None.Status());
    }

    // ---------------------------------------------------------------- resuming

    /// <summary>
    /// Counts the work for a client that trickles a large head one byte per read: before each call, every byte the
    /// parser has already read (and should not read again) is overwritten with a control byte, which any re-read would
    /// take as an error. Only bytes a part's final check needs are put back, just before the byte that ends the part.
    /// So each byte is scanned once when it arrives and once when its part or line ends: linear, not quadratic.
    /// </summary>
    [Theory]
    [InlineData("GET /pixel.gif?key=", 6000, " HTTP/1.1\r\nHost: stats.example.org\r\nUser-Agent: ", "\r\nAccept: */*\r\n\r\n")]
    [InlineData("GET http://stats.example.org:9187/pixel.gif?key=", 6000, " HTTP/1.1\r\nHost: h\r\nX-Long: ", "\r\n\r\n")]
    [InlineData("\r\n\r\nHEAD /pixel.gif?key=k HTTP/1.0\r\nConnection: keep-alive\r\nReferer: https://example.org/", 7000, "", "\r\n\r\n")]
    public void Trickled_head_each_byte_is_read_once_when_it_arrives_not_once_per_read(string before, int filler, string middle, string after)
    {
        var limits = new HttpLimits(16384, 16384, 100, 0);
        string fill = new('a', filler);
        byte[] clean = Bytes(before + fill + middle + fill + after);
        byte[] input = new byte[clean.Length];
        const byte Poison = 0x01;

        // The request line runs from after any leading empty lines to its LF.
        int lineStart = 0;
        while (clean[lineStart] == (byte)'\r')
        {
            lineStart += 2;
        }

        int lineEnd = Array.IndexOf(clean, (byte)'\n', lineStart);
        var parser = new RequestParser();
        int partStart = lineStart;   // where the request-line part, or the field line, holding the newest byte starts
        int spaces = 0;
        int reads = 0;
        ParsedRequest r = ParsedRequest.Incomplete;
        for (int n = 1; n <= clean.Length; n++)
        {
            int at = n - 1;
            byte arrived = clean[at];
            bool onRequestLine = at >= lineStart && at <= lineEnd;
            bool endsPart = at >= partStart && (arrived == (byte)'\r' || (arrived == (byte)' ' && onRequestLine && spaces < 2));
            if (endsPart)
            {
                // The part's final check reads it whole, once.
                clean.AsSpan(partStart, at - partStart).CopyTo(input.AsSpan(partStart));
            }

            input[at] = arrived;
            r = parser.Parse(input.AsSpan(0, n), limits);
            reads++;
            if (r.Status != ParseStatus.Incomplete)
            {
                Assert.Equal(clean.Length, n);
                break;
            }

            if (endsPart)
            {
                // Read in full just now: never again.
                input.AsSpan(partStart, at - partStart).Fill(Poison);
                partStart = at + 1;
                spaces += arrived == (byte)' ' ? 1 : 0;
            }
            else if (arrived == (byte)'\n')
            {
                partStart = at + 1;
            }
            else if (at - 1 >= partStart + 8 && clean[at - 1] is not ((byte)'\r' or (byte)'\n'))
            {
                // Scanned when it arrived. A part's first eight bytes may be looked at again before it ends: they say
                // which form a target has ("https://"), and a version is no longer.
                input[at - 1] = Poison;
            }
        }

        ParsedRequest expected = Parse(clean, limits);
        Assert.Equal(ParseStatus.Complete, expected.Status);
        Assert.Equal(expected, r);
        Assert.Equal(clean.Length, reads);
    }

    // ---------------------------------------------------------------- limits

    [Fact]
    public void Request_line_at_the_limit_is_accepted_and_one_byte_more_is_414()
    {
        string line = "GET /pixel.gif?key=" + new string('k', 100) + " HTTP/1.1\r\n";
        byte[] input = Bytes(line + "Host: h\r\n\r\n");

        Assert.Equal(ParseStatus.Complete, Parse(input, new HttpLimits(line.Length, 1024, 10, 0)).Status);
        AssertError(414, Parse(input, new HttpLimits(line.Length - 1, 1024, 10, 0)));

        // Leading empty lines count towards the limit, so a stream of CRLFs cannot be buffered forever.
        byte[] withEmptyLine = Bytes("\r\n" + line + "Host: h\r\n\r\n");
        Assert.Equal(ParseStatus.Complete, Parse(withEmptyLine, new HttpLimits(line.Length + 2, 1024, 10, 0)).Status);
        AssertError(414, Parse(withEmptyLine, new HttpLimits(line.Length + 1, 1024, 10, 0)));
    }

    [Fact]
    public void Long_request_line_is_414_as_soon_as_the_prefix_proves_it()
    {
        // With a limit of 64 a line may hold 62 bytes before its CRLF; 63 bytes without CR cannot fit any more.
        var limits = new HttpLimits(64, 1024, 10, 0);
        byte[] input = Bytes("GET /" + new string('a', 200) + " HTTP/1.1\r\nHost: h\r\n\r\n");
        for (int n = 0; n <= input.Length; n++)
        {
            ParsedRequest r = Parse(input[..n], limits);
            if (n < 63)
            {
                Assert.Equal(ParseStatus.Incomplete, r.Status);
            }
            else
            {
                AssertError(414, r);
            }
        }

        AssertError(414, Parse(Bytes(string.Concat(Enumerable.Repeat("\r\n", 40))), limits));
    }

    [Fact]
    public void Garbage_in_an_overlong_request_line_is_400()
    {
        var limits = new HttpLimits(64, 1024, 10, 0);
        AssertError(400, Parse(Bytes("G(T /" + new string('a', 200)), limits));
        AssertError(400, Parse(Bytes("GET /a\0" + new string('a', 200)), limits));
    }

    [Fact]
    public void Headers_at_the_byte_limit_are_accepted_and_one_byte_more_is_431()
    {
        string requestLine = "GET /pixel.gif HTTP/1.1\r\n";
        string headers = "Host: h\r\nUser-Agent: " + new string('u', 300) + "\r\n\r\n";
        byte[] input = Bytes(requestLine + headers);

        ParsedRequest ok = Parse(input, new HttpLimits(1024, headers.Length, 10, 0));
        Assert.Equal(ParseStatus.Complete, ok.Status);
        Assert.Equal(input.Length, ok.HeadLength);
        AssertError(431, Parse(input, new HttpLimits(1024, headers.Length - 1, 10, 0)));
    }

    [Fact]
    public void Large_headers_are_431_as_soon_as_the_prefix_proves_it()
    {
        // With a limit of 50 header bytes, a CR may sit at offset 48 at most; 49 bytes without the end cannot fit.
        var limits = new HttpLimits(1024, 50, 10, 0);
        string requestLine = "GET /pixel.gif HTTP/1.1\r\n";
        byte[] input = Bytes(requestLine + "Host: h\r\nCookie: " + new string('c', 200) + "\r\n\r\n");
        for (int n = requestLine.Length; n <= input.Length; n++)
        {
            ParsedRequest r = Parse(input[..n], limits);
            if (n - requestLine.Length < 49)
            {
                Assert.Equal(ParseStatus.Incomplete, r.Status);
            }
            else
            {
                AssertError(431, r);
            }
        }

        // The same when the budget runs out exactly at a line boundary: the final CRLF cannot fit any more.
        // One byte earlier the verdict is still open: the byte after that CR decides between 400 and 431.
        byte[] exact = Bytes(requestLine + "Host: h\r\nX: " + new string('x', 36) + "\r\n");
        Assert.Equal(50, exact.Length - requestLine.Length);
        AssertError(431, Parse(exact, limits));
        Assert.Equal(ParseStatus.Incomplete, Parse(exact[..^1], limits).Status);
        AssertError(400, Parse([.. exact[..^1], (byte)'X'], limits));
    }

    [Fact]
    public void Header_count_at_the_limit_is_accepted_and_one_more_is_431()
    {
        var limits = new HttpLimits(1024, 1024, 3, 0);
        Assert.Equal(
            ParseStatus.Complete,
            Parse(Bytes("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"), limits).Status);
        AssertError(431, Parse(Bytes("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"), limits));

        // Refused at the first byte of the fourth field line.
        Assert.Equal(ParseStatus.Incomplete, Parse(Bytes("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n"), limits).Status);
        AssertError(431, Parse(Bytes("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC"), limits));
    }

    [Fact]
    public void Content_length_at_the_body_limit_is_accepted_and_one_more_is_413()
    {
        var limits = new HttpLimits(1024, 1024, 10, 10);
        ParsedRequest ok = Parse(Bytes("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n"), limits);
        Assert.Equal(ParseStatus.Complete, ok.Status);
        Assert.Equal(10, ok.ContentLength);
        AssertError(413, Parse(Bytes("POST /pixel.gif HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"), limits));
    }

    [Fact]
    public void Default_limits_are_the_documented_ones()
    {
        HttpLimits d = HttpLimits.Default;
        Assert.Equal((8192, 16384, 100, 65536), (d.MaxRequestLineBytes, d.MaxHeaderBytes, d.MaxHeaderCount, d.MaxBodyBytes));
    }

    [Theory]
    [InlineData(0, 1, 0, 0)]
    [InlineData(1, 0, 0, 0)]
    [InlineData(1, 1, -1, 0)]
    [InlineData(1, 1, 0, -1)]
    public void Limits_refuse_nonsense(int line, int headers, int count, int body)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpLimits(line, headers, count, body));
    }

    [Fact]
    public void Default_struct_limits_never_throw()
    {
        AssertError(414, Parse(Bytes("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), default));
        AssertError(414, Parse([], default));
    }

    [Fact]
    public void Empty_input_is_incomplete()
    {
        Assert.Equal(ParseStatus.Incomplete, Parse([], HttpLimits.Default).Status);
    }

    // ---------------------------------------------------------------- all 256 byte values at one position

    [Fact]
    public void Every_byte_in_the_target_path()
    {
        for (int b = 0; b < 256; b++)
        {
            byte[] input = Bytes($"GET /pixel{(char)b}gif?key=1 HTTP/1.1\r\nHost: h\r\n\r\n");
            ParsedRequest r = Parse(input, HttpLimits.Default);
            bool allowed = b is (>= 0x21 and <= 0x7E) or >= 0x80;   // RFC 3986 + tolerated obs-text; no CTL, SP, DEL
            if (!allowed)
            {
                AssertError(400, r);
                continue;
            }

            Assert.Equal(ParseStatus.Complete, r.Status);
            Assert.Equal(input.Length, r.HeadLength);
            Assert.Equal(b == '.', r.IsPixel);
            string? expectedQuery = b switch
            {
                '?' => "gif?key=1",
                '#' => null,
                _ => "key=1",
            };
            Assert.Equal(expectedQuery, Query(input, r));
        }
    }

    [Fact]
    public void Every_byte_in_the_query()
    {
        for (int b = 0; b < 256; b++)
        {
            byte[] input = Bytes($"GET /pixel.gif?key=a{(char)b}c HTTP/1.1\r\nHost: h\r\n\r\n");
            ParsedRequest r = Parse(input, HttpLimits.Default);
            bool allowed = b is (>= 0x21 and <= 0x7E) or >= 0x80;
            if (!allowed)
            {
                AssertError(400, r);
                continue;
            }

            Assert.Equal(ParseStatus.Complete, r.Status);
            Assert.True(r.IsPixel);
            Assert.Equal(b == '#' ? "key=a" : $"key=a{(char)b}c", Query(input, r));
        }
    }

    [Fact]
    public void Every_byte_in_a_field_value()
    {
        for (int b = 0; b < 256; b++)
        {
            byte[] input = Bytes($"GET /pixel.gif HTTP/1.1\r\nHost: h\r\nX-Test: a{(char)b}c\r\n\r\n");
            ParsedRequest r = Parse(input, HttpLimits.Default);
            bool allowed = b is '\t' or (>= 0x20 and <= 0x7E) or >= 0x80;   // RFC 9110 §5.5 field-value
            if (allowed)
            {
                Assert.Equal(ParseStatus.Complete, r.Status);
                Assert.Equal(input.Length, r.HeadLength);
            }
            else
            {
                AssertError(400, r);
            }
        }
    }

    [Fact]
    public void Every_byte_in_a_field_name()
    {
        for (int b = 0; b < 256; b++)
        {
            byte[] input = Bytes($"GET /pixel.gif HTTP/1.1\r\nHost: h\r\nX{(char)b}Y: v\r\n\r\n");
            ParsedRequest r = Parse(input, HttpLimits.Default);
            // A tchar extends the name; ':' ends it early ("X" with value "Y: v"); anything else is a 400.
            if (IsTchar(b) || b == ':')
            {
                Assert.Equal(ParseStatus.Complete, r.Status);
            }
            else
            {
                AssertError(400, r);
            }
        }
    }

    [Fact]
    public void Every_byte_in_the_method()
    {
        for (int b = 0; b < 256; b++)
        {
            ParsedRequest r = Parse(Bytes($"G{(char)b}T /pixel.gif HTTP/1.1\r\nHost: h\r\n\r\n"), HttpLimits.Default);
            if (IsTchar(b))
            {
                Assert.Equal(ParseStatus.Complete, r.Status);
                Assert.Equal(b == 'E' ? RequestMethod.Get : RequestMethod.Other, r.Method);
            }
            else
            {
                AssertError(400, r);
            }
        }
    }

    [Fact]
    public void Every_byte_after_the_request_line()
    {
        // The byte right after "HTTP/1.1": only CR may follow (then LF); everything else is a 400.
        for (int b = 0; b < 256; b++)
        {
            ParsedRequest r = Parse(Bytes($"GET /pixel.gif HTTP/1.1{(char)b}\nHost: h\r\n\r\n"), HttpLimits.Default);
            if (b == '\r')
            {
                Assert.Equal(ParseStatus.Complete, r.Status);
            }
            else
            {
                AssertError(400, r);
            }
        }
    }

    // ---------------------------------------------------------------- Connection semantics

    [Theory]
    [InlineData("1.1", null, true)]
    [InlineData("1.1", "close", false)]
    [InlineData("1.1", "CLOSE", false)]
    [InlineData("1.1", "keep-alive", true)]
    [InlineData("1.1", "Upgrade, close", false)]
    [InlineData("1.1", " , close ,", false)]
    [InlineData("1.1", "closed", true)]
    [InlineData("1.1", "close-later", true)]
    [InlineData("1.1", "", true)]
    [InlineData("1.1", "keep-alive\r\nConnection: close", false)]
    [InlineData("1.0", null, false)]
    [InlineData("1.0", "keep-alive", true)]
    [InlineData("1.0", "Keep-Alive", true)]
    [InlineData("1.0", "foo,\tkeep-alive\t", true)]
    [InlineData("1.0", "keepalive", false)]
    [InlineData("1.0", "keep-alive, close", false)]
    [InlineData("1.0", "close, keep-alive", false)]
    [InlineData("1.0", "foo\r\nConnection: keep-alive", true)]
    [InlineData("1.0", "keep-alive\r\nConnection: close", false)]
    [InlineData("1.0", "keep-alive\r\nX-Connection: close", true)]
    public void Connection_header_decides_keep_alive(string version, string? connection, bool keepAlive)
    {
        string request = $"GET /pixel.gif HTTP/{version}\r\nHost: h\r\n"
            + (connection is null ? "" : $"Connection: {connection}\r\n")
            + "\r\n";
        ParsedRequest r = Parse(request);
        Assert.Equal(ParseStatus.Complete, r.Status);
        Assert.Equal(version == "1.0", r.IsHttp10);
        Assert.Equal(keepAlive, r.KeepAlive);
    }

    // ---------------------------------------------------------------- allocation

    [Fact]
    public void Parsing_does_not_allocate()
    {
        byte[][] inputs =
        [
            Bytes("GET /pixel.gif?key=abc HTTP/1.1\r\nHost: h\r\nUser-Agent: x\r\nConnection: keep-alive\r\n\r\n"),
            Bytes("GET http://h/pixel.gif?key=abc HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n"),
            Bytes("GET /pixel.gif HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"),
            Bytes("GET /pixel.gif HTTP/1.1\r\nHo"),
        ];
        var limits = HttpLimits.Default;
        int sink = 0;
        foreach (byte[] input in inputs)
        {
            sink += new RequestParser().Parse(input, limits).HeadLength;   // warm up: type initialisers, SearchValues
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            foreach (byte[] input in inputs)
            {
                sink += new RequestParser().Parse(input, limits).HeadLength;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.NotEqual(0, sink);
    }

    // ---------------------------------------------------------------- fuzz

    private static readonly string[] s_seeds =
    [
        "GET /pixel.gif?key=document:42 HTTP/1.1\r\nHost: stats.example.org\r\n\r\n",
        "HEAD /pixel.gif HTTP/1.1\r\nHost: a\r\nUser-Agent: Mozilla/5.0\r\nConnection: close\r\n\r\n",
        "GET /pixel.gif?key=a+b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "GET http://h:1/pixel.gif?key=x#f HTTP/1.1\r\nHost: h:1\r\n\r\n",
        "POST /pixel.gif?key=y HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        "\r\nPOST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    ];

    private static readonly byte[] s_interesting = Bytes(" \t\r\n:/?#@*.,0123456789HTTPhttp\0\u007f\u0080\u00ff");

    [Fact]
    public void Fuzzed_input_never_throws_and_always_gives_a_consistent_result()
    {
        // Seeded and about two seconds in the normal run; PIXELPING_FUZZ_SECONDS makes it longer (see Support/Fuzz).
        int seed = Fuzz.Seed(20240611);
        _output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        HttpLimits[] limitSets = [HttpLimits.Default, new HttpLimits(40, 60, 3, 4), new HttpLimits(16, 12, 1, 0)];
        var clock = Stopwatch.StartNew();
        TimeSpan budget = Fuzz.Budget(TimeSpan.FromSeconds(2));
        long iterations = 0;
        var outcomes = new HashSet<(ParseStatus, int)>();
        while ((Fuzz.Long || iterations < 300_000) && clock.Elapsed < budget)
        {
            iterations++;
            byte[] input = random.Next(5) == 0 ? RandomBytes(random) : Mutate(random, Bytes(s_seeds[random.Next(s_seeds.Length)]));
            HttpLimits limits = limitSets[random.Next(limitSets.Length)];
            ParsedRequest r = new RequestParser().Parse(input, limits);
            outcomes.Add((r.Status, r.Rejection.Status()));
            CheckInvariants(input, limits, r, random);
        }

        _output.WriteLine($"{iterations} inputs");

        // The generator must reach every kind of outcome, or the invariants above were barely exercised.
        Assert.Contains((ParseStatus.Incomplete, 0), outcomes);
        Assert.Contains((ParseStatus.Complete, 0), outcomes);
        foreach (int status in s_errorStatuses)
        {
            Assert.Contains((ParseStatus.Error, status), outcomes);
        }
    }

    private static void CheckInvariants(byte[] input, HttpLimits limits, ParsedRequest r, Random random)
    {
        string context = Convert.ToHexString(input);
        switch (r.Status)
        {
            case ParseStatus.Incomplete:
                Assert.Equal(0, r.Rejection.Status());
                // An incomplete input has no error in any prefix either.
                Assert.Equal(ParseStatus.Incomplete, new RequestParser().Parse(input.AsSpan(0, random.Next(input.Length + 1)), limits).Status);
                break;

            case ParseStatus.Complete:
                Assert.Equal(0, r.Rejection.Status());
                Assert.InRange(r.HeadLength, 16, input.Length);   // "G / HTTP/1.0\r\n\r\n" is the shortest head
                Assert.True(input.AsSpan(0, r.HeadLength).EndsWith("\r\n\r\n"u8), context);
                Assert.InRange(r.ContentLength, 0, limits.MaxBodyBytes);
                if (r.QueryStart != 0)
                {
                    Assert.Equal((byte)'?', input[r.QueryStart - 1]);
                    Assert.InRange(r.QueryStart + r.QueryLength, r.QueryStart, r.HeadLength);
                }
                else
                {
                    Assert.Equal(0, r.QueryLength);
                }

                // The head alone parses the same, and every shorter prefix is Incomplete.
                Assert.Equal(r, new RequestParser().Parse(input.AsSpan(0, r.HeadLength), limits));
                Assert.Equal(ParseStatus.Incomplete, new RequestParser().Parse(input.AsSpan(0, r.HeadLength - 1), limits).Status);
                Assert.Equal(ParseStatus.Incomplete, new RequestParser().Parse(input.AsSpan(0, random.Next(r.HeadLength)), limits).Status);
                break;

            case ParseStatus.Error:
                Assert.True(s_errorStatuses.Contains(r.Rejection.Status()), $"{r.Rejection.Status()} for {context}");
                break;

            default:
                Assert.Fail($"status {r.Status} for {context}");
                break;
        }

        // One parser fed the same bytes in random pieces agrees with a fresh parse after every piece.
        var resumed = new RequestParser();
        for (int n = 0; n < input.Length; n += 1 + random.Next(8))
        {
            ParsedRequest piece = resumed.Parse(input.AsSpan(0, n), limits);
            Assert.Equal(new RequestParser().Parse(input.AsSpan(0, n), limits), piece);
            if (piece.Status != ParseStatus.Incomplete)
            {
                break;
            }
        }

        // Whatever arrives next cannot change a verdict already reached.
        if (r.Status != ParseStatus.Incomplete)
        {
            byte[] longer = [.. input, .. RandomBytes(random)];
            Assert.Equal(r, new RequestParser().Parse(longer, limits));
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 64)];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = random.Next(3) == 0 ? (byte)random.Next(256) : s_interesting[random.Next(s_interesting.Length)];
        }

        return bytes;
    }

    private static readonly byte[][] s_splices = ["\r\n"u8.ToArray(), "Content-Length: 7\r\n"u8.ToArray()];

    private static byte[] Mutate(Random random, byte[] seed) => Fuzz.Mutate(random, seed, s_interesting, s_splices);
}
