using System.Diagnostics;
using System.Text;
using PixelPing.Filtering;
using PixelPing.Http;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.Filtering;

public sealed class HitFilterTests(ITestOutputHelper output)
{
    private static readonly UInt128 s_peer = NetAddress.FromIPv4(0xC0000209);       // 192.0.2.9
    private static readonly UInt128 s_proxy = NetAddress.FromIPv4(0x0A000001);      // 10.0.0.1

    private static AddressRange[] Ranges(params string[] texts) =>
        [.. texts.Select(t => AddressRange.TryParse(t, out AddressRange r, out string e) ? r : throw new FormatException(e))];

    private static HitFilter AllOn(int maxHits = 2) => new(
        ignoreBots: true,
        ignorePrefetch: true,
        ReferrerHosts.Create(["example.org", "*.example.com"]),
        requireReferrer: false,
        [new KeyPattern("story:*")],
        Ranges("198.51.100.0/24"),
        Ranges("10.0.0.0/8"),
        new ClientCap(maxHits, 1000, SipHash.WithRandomKey()));

    private static IgnoreReason Check(HitFilter filter, string headers, UInt128 peer, string key = "story:1")
    {
        byte[] input = Encoding.Latin1.GetBytes($"GET /pixel.gif?key={key} HTTP/1.1\r\nHost: h\r\n{headers}\r\n");
        ParsedRequest request = new RequestParser().Parse(input, HttpLimits.Default with { Capture = filter.Wanted });
        Assert.Equal(ParseStatus.Complete, request.Status);
        return filter.Check(input, request, peer, Encoding.UTF8.GetBytes(key), window: 0, out _);
    }

    private const string Browser = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n";

    [Theory]
    [InlineData(Browser + "Referer: https://www.example.com/a\r\n", "story:1", "None")]
    [InlineData(Browser, "story:1", "None")]
    [InlineData("User-Agent: curl/8.4.0\r\nReferer: https://example.org/\r\n", "story:1", "Bot")]
    [InlineData(Browser + "Sec-Purpose: prefetch\r\n", "story:1", "Prefetch")]
    [InlineData(Browser + "Sec-Purpose: prefetch;prerender\r\n", "story:1", "None")]
    [InlineData(Browser + "X-Moz: prefetch\r\n", "story:1", "Prefetch")]
    [InlineData(Browser + "Referer: https://example.org.evil.test/\r\n", "story:1", "Referrer")]
    [InlineData(Browser + "Referer: \r\n", "story:1", "None")]
    [InlineData(Browser, "video:1", "Key")]
    // The first reason in order wins: a bot prefetching a foreign page's pixel is a bot.
    [InlineData("User-Agent: Googlebot/2.1\r\nSec-Purpose: prefetch\r\nReferer: https://evil.test/\r\n", "video:1", "Bot")]
    [InlineData("Sec-Purpose: prefetch\r\nReferer: https://evil.test/\r\n", "video:1", "Prefetch")]
    public void DecidesEachHitByTheFirstFilterThatApplies(string headers, string key, string expected) =>
        Assert.Equal(Enum.Parse<IgnoreReason>(expected), Check(AllOn(), headers, s_peer, key));

    [Fact]
    public void Ignored_addresses_are_the_client_behind_a_trusted_proxy()
    {
        HitFilter filter = AllOn();
        Assert.Equal(IgnoreReason.Address, Check(filter, Browser, NetAddress.FromIPv4(0xC6336407)));       // 198.51.100.7
        Assert.Equal(IgnoreReason.Address, Check(filter, Browser + "X-Forwarded-For: 198.51.100.7\r\n", s_proxy));
        Assert.Equal(IgnoreReason.Address, Check(filter, Browser + "Forwarded: for=198.51.100.7\r\n", s_proxy));
        Assert.Equal(IgnoreReason.None, Check(filter, Browser + "X-Forwarded-For: 198.51.100.7, 203.0.113.5\r\n", s_proxy));
        // An untrusted peer cannot claim to be someone else.
        Assert.Equal(IgnoreReason.None, Check(filter, Browser + "X-Forwarded-For: 198.51.100.7\r\n", s_peer));
    }

    [Fact]
    public void The_per_client_cap_counts_only_hits_that_passed_the_other_filters()
    {
        HitFilter filter = AllOn(maxHits: 2);
        Assert.Equal(IgnoreReason.Bot, Check(filter, "User-Agent: curl/8\r\n", s_peer));
        Assert.Equal(IgnoreReason.None, Check(filter, Browser, s_peer));
        Assert.Equal(IgnoreReason.None, Check(filter, Browser, s_peer));
        Assert.Equal(IgnoreReason.PerClient, Check(filter, Browser, s_peer));
        Assert.Equal(IgnoreReason.None, Check(filter, Browser, s_peer, "story:2"));
        // Behind the proxy each forwarded client has its own count.
        Assert.Equal(IgnoreReason.None, Check(filter, Browser + "X-Forwarded-For: 192.0.2.9\r\n", s_proxy, "story:3"));
        Assert.Equal(IgnoreReason.None, Check(filter, Browser + "X-Forwarded-For: 203.0.113.1\r\n", s_proxy, "story:3"));
    }

    [Fact]
    public void Require_referrer_ignores_hits_without_one()
    {
        var filter = new HitFilter(false, false, null, requireReferrer: true, null, null, null, null);
        Assert.Equal(HeaderFields.Referer, filter.Wanted);
        Assert.Equal(IgnoreReason.Referrer, Check(filter, Browser, s_peer));
        Assert.Equal(IgnoreReason.Referrer, Check(filter, "Referer:\r\n", s_peer));
        Assert.Equal(IgnoreReason.None, Check(filter, "Referer: https://anywhere.test/\r\n", s_peer));
    }

    [Fact]
    public void Asks_the_parser_only_for_the_headers_its_filters_read()
    {
        Assert.Equal(HeaderFields.UserAgent, new HitFilter(true, false, null, false, null, null, null, null).Wanted);
        Assert.Equal(HeaderFields.None, new HitFilter(false, false, null, false, [new KeyPattern("a")], null, null, null).Wanted);
        Assert.Equal(HeaderFields.None, new HitFilter(false, false, null, false, null, Ranges("10.0.0.0/8"), null, null).Wanted);
        Assert.Equal(HeaderFields.XForwardedFor | HeaderFields.Forwarded,
            new HitFilter(false, false, null, false, null, Ranges("10.0.0.0/8"), Ranges("10.0.0.0/8"), null).Wanted);
        Assert.Equal(HeaderFields.SecPurpose | HeaderFields.Purpose | HeaderFields.XPurpose | HeaderFields.XMoz,
            new HitFilter(false, true, null, false, null, null, null, null).Wanted);
    }

    [Fact]
    public void The_parser_records_the_last_line_of_a_wanted_field_and_nothing_else()
    {
        byte[] input = "GET /pixel.gif?key=a HTTP/1.1\r\nHost: h\r\nuser-agent:  first \r\nReferer: https://r.test/\r\nUSER-AGENT:\tsecond\t\r\nX-Forwarded-For:\r\n\r\n"u8.ToArray();
        ParsedRequest request = new RequestParser().Parse(input, HttpLimits.Default with { Capture = HeaderFields.UserAgent | HeaderFields.XForwardedFor });
        Assert.Equal("second", Encoding.ASCII.GetString(request.Value(input, HeaderFields.UserAgent)));
        Assert.True(request.Has(HeaderFields.XForwardedFor));
        Assert.True(request.Value(input, HeaderFields.XForwardedFor).IsEmpty);
        Assert.False(request.Has(HeaderFields.Referer));
        Assert.False(request.Has(HeaderFields.Forwarded));
        ParsedRequest plain = new RequestParser().Parse(input, HttpLimits.Default);
        Assert.False(plain.Has(HeaderFields.UserAgent));
    }

    private static readonly string[] s_seeds =
    [
        "GET /pixel.gif?key=story:1 HTTP/1.1\r\nHost: h\r\nUser-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)\r\n\r\n",
        "GET /pixel.gif?key=story:1 HTTP/1.1\r\nHost: h\r\nReferer: https://user@www.example.com:443/a?b#c\r\nSec-Purpose: prefetch;anonymous-client-ip\r\n\r\n",
        "GET /pixel.gif?key=story:1 HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 203.0.113.7, [2001:db8::1]:80, 10.0.0.2\r\n\r\n",
        "GET /pixel.gif?key=story:1 HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 198.51.100.7\r\n\r\n",
        "GET /pixel.gif?key=story:1 HTTP/1.1\r\nHost: h\r\nForwarded: for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.1.1.1;by=_x\r\n\r\n",
        "GET /pixel.gif?key=story:1 HTTP/1.1\r\nHost: h\r\nPurpose: prefetch\r\nX-Purpose: preview\r\nX-Moz: prefetch\r\n\r\n",
    ];

    private static readonly byte[] s_interesting = Encoding.Latin1.GetBytes(" \t\r\n:/?#@[]\";,=.*_0123456789abcdefABCDEF\u0080\u00ff");

    private static readonly byte[][] s_splices =
    [
        "X-Forwarded-For: "u8.ToArray(), "Forwarded: for="u8.ToArray(), "User-Agent: "u8.ToArray(), "Referer: http://"u8.ToArray(),
        "::ffff:"u8.ToArray(), "\"[::1]:1\""u8.ToArray(), ", "u8.ToArray(), "Sec-Purpose: prefetch;"u8.ToArray(),
    ];

    [Fact]
    public void Fuzzed_headers_never_throw_and_never_change_the_parse()
    {
        // Seeded and about two seconds in the normal run; PIXELPING_FUZZ_SECONDS makes it longer (see Support/Fuzz).
        int seed = Fuzz.Seed(20261201);
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        HitFilter filter = AllOn(maxHits: 5);
        HttpLimits capturing = HttpLimits.Default with { Capture = filter.Wanted };
        var reasons = new HashSet<IgnoreReason>();
        var clock = Stopwatch.StartNew();
        TimeSpan budget = Fuzz.Budget(TimeSpan.FromSeconds(2));
        long inputs = 0;
        while ((Fuzz.Long || inputs < 200_000) && clock.Elapsed < budget)
        {
            inputs++;
            byte[] input = Fuzz.Mutate(random, Encoding.Latin1.GetBytes(s_seeds[random.Next(s_seeds.Length)]), s_interesting, s_splices);
            ParsedRequest request = new RequestParser().Parse(input, capturing);
            ParsedRequest plain = new RequestParser().Parse(input, HttpLimits.Default);
            // Capturing values must not change what the parser decides.
            Assert.Equal((plain.Status, plain.Rejection, plain.HeadLength, plain.QueryStart, plain.QueryLength, plain.KeepAlive),
                (request.Status, request.Rejection, request.HeadLength, request.QueryStart, request.QueryLength, request.KeepAlive));
            if (request.Status != ParseStatus.Complete)
            {
                continue;
            }

            // A head that arrives in two reads (the parser goes on where it stopped) records the same values.
            var resumed = new RequestParser();
            int split = random.Next(1, request.HeadLength);
            Assert.Equal(ParseStatus.Incomplete, resumed.Parse(input.AsSpan(0, split), capturing).Status);
            Assert.Equal(request, resumed.Parse(input, capturing));

            foreach (HeaderFields field in Enum.GetValues<HeaderFields>().Where(f => f != HeaderFields.None))
            {
                ReadOnlySpan<byte> value = request.Value(input, field);
                Assert.True(value.IsEmpty || (value[0] is not (byte)' ' and not (byte)'\t' && value[^1] is not (byte)' ' and not (byte)'\t'));
            }

            UInt128 peer = random.Next(2) == 0 ? s_proxy : s_peer;
            reasons.Add(filter.Check(input, request, peer, "story:1"u8, window: 0, out _));
        }

        output.WriteLine($"{inputs} inputs, reasons seen: {string.Join(", ", reasons)}");
        // The mutations must reach the filters' decisions, or the loop above proved little.
        Assert.Contains(IgnoreReason.None, reasons);
        Assert.Contains(IgnoreReason.Bot, reasons);
        Assert.Contains(IgnoreReason.Referrer, reasons);
        Assert.Contains(IgnoreReason.Prefetch, reasons);
        Assert.Contains(IgnoreReason.Address, reasons);
        Assert.Contains(IgnoreReason.PerClient, reasons);
    }
}
