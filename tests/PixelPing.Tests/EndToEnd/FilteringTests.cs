using System.Net;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// The hit filters in the published binary: real requests from several loopback addresses (127.0.0.2 and 127.0.0.3
/// are other clients to the server), a real endpoint; the endpoint's totals must leave out exactly the ignored hits,
/// and the flush must name them per reason.
/// </summary>
public sealed class FilteringTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private const string Firefox = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n";
    private const string Curl = "User-Agent: curl/8.4.0\r\n";
    private const string Googlebot = "User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)\r\n";

    /// <summary>One request: from which loopback address, with which extra header lines, for which key.</summary>
    public sealed record Hit(string From, string Key, string Headers = "");

    /// <summary>A config's filter keys, the hits sent, the totals the endpoint must get and the flush's ignored line (null: none).</summary>
    public sealed record Scenario(string Filters, Hit[] Hits, Dictionary<string, long> Totals, string? Ignored);

    private static readonly Dictionary<string, Scenario> s_scenarios = new()
    {
        // Every filter off: a 0.1.6 config counts everything, robots and prefetches included.
        ["none"] = new("", [
            new("127.0.0.1", "a", Curl), new("127.0.0.1", "a", "Sec-Purpose: prefetch\r\n"),
            new("127.0.0.2", "a", "Referer: https://evil.test/\r\n"), new("127.0.0.3", "b")],
            new() { ["a"] = 3, ["b"] = 1 }, null),

        ["ignorebots"] = new("\"ignorebots\": true", [
            new("127.0.0.1", "a", Curl), new("127.0.0.1", "a", Googlebot), new("127.0.0.1", "a", "User-Agent: python-requests/2.31.0\r\n"),
            new("127.0.0.1", "a", Firefox), new("127.0.0.1", "a")],
            new() { ["a"] = 2 }, "--- ignored 3 hits: 3 bot"),

        ["ignoreprefetch"] = new("\"ignoreprefetch\": true", [
            new("127.0.0.1", "a", "Sec-Purpose: prefetch\r\n"), new("127.0.0.1", "a", "Sec-Purpose: prefetch;anonymous-client-ip\r\n"),
            new("127.0.0.1", "a", "Purpose: prefetch\r\n"), new("127.0.0.1", "a", "X-Purpose: preview\r\n"),
            new("127.0.0.1", "a", "X-Moz: prefetch\r\n"), new("127.0.0.1", "a", "Sec-Purpose: prefetch;prerender\r\n"),
            new("127.0.0.1", "a", Firefox)],
            new() { ["a"] = 2 }, "--- ignored 5 hits: 5 prefetch"),

        ["referrers"] = new("\"referrers\": [\"example.org\", \"*.example.com\"]", [
            new("127.0.0.1", "a", "Referer: https://example.org/news/1\r\n"), new("127.0.0.1", "a", "Referer: https://www.example.com/\r\n"),
            new("127.0.0.1", "a", "Referer: https://example.org.evil.test/\r\n"), new("127.0.0.1", "a", "Referer: https://example.com/\r\n"),
            new("127.0.0.1", "a")],
            new() { ["a"] = 3 }, "--- ignored 2 hits: 2 referrer"),

        ["requirereferrer"] = new("\"referrers\": [\"example.org\"], \"requirereferrer\": true", [
            new("127.0.0.1", "a", "Referer: https://example.org/\r\n"), new("127.0.0.1", "a"), new("127.0.0.1", "a", "Referer: \r\n")],
            new() { ["a"] = 1 }, "--- ignored 2 hits: 2 referrer"),

        ["keys"] = new("\"keys\": [\"story:*\", \"home\"]", [
            new("127.0.0.1", "story:1"), new("127.0.0.1", "story:2"), new("127.0.0.1", "home"), new("127.0.0.1", "video:1"),
            new("127.0.0.1", "homepage")],
            new() { ["story:1"] = 1, ["story:2"] = 1, ["home"] = 1 }, "--- ignored 2 hits: 2 key"),

        ["ignoreaddresses"] = new("\"ignoreaddresses\": [\"127.0.0.3\", \"2001:db8::/32\"]", [
            new("127.0.0.3", "a"), new("127.0.0.3", "a"), new("127.0.0.2", "a"), new("127.0.0.1", "a")],
            new() { ["a"] = 2 }, "--- ignored 2 hits: 2 address"),

        // 127.0.0.2 is the trusted proxy; 127.0.0.1 is a client that claims to be forwarded.
        ["trustedproxies"] = new("\"trustedproxies\": [\"127.0.0.2\"], \"ignoreaddresses\": [\"198.51.100.0/24\"]", [
            new("127.0.0.2", "a", "X-Forwarded-For: 198.51.100.7\r\n"),
            new("127.0.0.2", "a", "X-Forwarded-For: 203.0.113.1, 198.51.100.7, 127.0.0.2\r\n"),
            new("127.0.0.2", "a", "Forwarded: for=\"198.51.100.7:4711\";proto=https\r\n"),
            new("127.0.0.2", "a", "X-Forwarded-For: 198.51.100.7, 203.0.113.1\r\n"),
            new("127.0.0.2", "a", "X-Forwarded-For: garbage\r\n"),
            new("127.0.0.1", "a", "X-Forwarded-For: 198.51.100.7\r\n")],
            new() { ["a"] = 3 }, "--- ignored 3 hits: 3 address"),

        ["maxhitsperclient"] = new("\"maxhitsperclient\": 2", [
            .. Enumerable.Repeat(new Hit("127.0.0.1", "a"), 5), new("127.0.0.1", "b"), new("127.0.0.2", "a"), new("127.0.0.2", "a")],
            new() { ["a"] = 4, ["b"] = 1 }, "--- ignored 3 hits: 3 per-client"),

        // All at once: each hit is attributed to the first filter that applies.
        ["all"] = new(
            "\"ignorebots\": true, \"ignoreprefetch\": true, \"referrers\": [\"example.org\"], \"keys\": [\"story:*\"], " +
            "\"ignoreaddresses\": [\"127.0.0.3\", \"198.51.100.0/24\"], \"trustedproxies\": [\"127.0.0.2\"], \"maxhitsperclient\": 2",
            [
                new("127.0.0.1", "story:1", Curl), new("127.0.0.1", "video:1", Curl + "Sec-Purpose: prefetch\r\n"),
                new("127.0.0.1", "story:1", Firefox + "Sec-Purpose: prefetch\r\n"),
                new("127.0.0.1", "story:1", Firefox + "Referer: https://evil.test/\r\n"),
                new("127.0.0.1", "video:1", Firefox + "Referer: https://example.org/\r\n"),
                new("127.0.0.3", "story:1", Firefox),
                new("127.0.0.2", "story:1", Firefox + "X-Forwarded-For: 198.51.100.7\r\n"),
                new("127.0.0.1", "story:1", Firefox + "Referer: https://example.org/\r\n"),
                new("127.0.0.1", "story:1", Firefox),
                new("127.0.0.1", "story:1", Firefox),
                new("127.0.0.2", "story:1", Firefox + "X-Forwarded-For: 203.0.113.1\r\n"),
            ],
            new() { ["story:1"] = 3 }, "--- ignored 8 hits: 2 bot, 1 prefetch, 1 referrer, 1 key, 2 address, 1 per-client"),
    };

    public static TheoryData<string> ScenarioNames() => [.. s_scenarios.Keys];

    [Theory]
    [MemberData(nameof(ScenarioNames))]
    public async Task Endpoint_totals_leave_out_exactly_the_ignored_hits(string name)
    {
        Scenario scenario = s_scenarios[name];
        await using var receiver = new EndpointReceiver();
        string filters = scenario.Filters.Length == 0 ? "" : ", " + scenario.Filters;
        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"{receiver.Url}\"{filters} }}", out int port);
        foreach (Hit hit in scenario.Hits)
        {
            using var client = new RawHttpClient(port, from: IPAddress.Parse(hit.From));
            RawResponse response = client.Request("/pixel.gif?key=" + Uri.EscapeDataString(hit.Key), hit.Headers);
            // An ignored hit gets the same answer as a counted one.
            Assert.Equal(200, response.Status);
            Assert.Equal("image/gif", response.Header("Content-Type"));
        }

        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStdout(l => l == "--- flushed ---", Deadline);
        Assert.Equal(scenario.Totals.OrderBy(p => p.Key), receiver.Totals.OrderBy(p => p.Key));
        string[] ignored = server.Stdout.Where(l => l.StartsWith("--- ignored", StringComparison.Ordinal)).ToArray();
        if (scenario.Ignored is null)
        {
            Assert.Empty(ignored);
        }
        else
        {
            Assert.Equal(scenario.Ignored, Assert.Single(ignored));
        }

        // The tally starts again after each flush: the next flush has nothing to report.
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=story:after", Firefox + "Referer: https://example.org/\r\n").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStdout(l => l.EndsWith("story:after", StringComparison.Ordinal), Deadline);
        Assert.Equal(scenario.Ignored is null ? 0 : 1, server.CountStdout(l => l.StartsWith("--- ignored", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task The_ignored_line_in_the_json_log_format_has_a_number_per_reason()
    {
        await using var receiver = new EndpointReceiver();
        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"{receiver.Url}\", \"logformat\": \"json\", " +
            "\"ignorebots\": true, \"keys\": [\"story:*\"] }", out int port);
        foreach (Hit hit in new Hit[] { new("127.0.0.1", "story:1", Curl), new("127.0.0.1", "story:1", Curl), new("127.0.0.1", "x"), new("127.0.0.1", "story:1") })
        {
            using var client = new RawHttpClient(port);
            Assert.Equal(200, client.Request("/pixel.gif?key=" + hit.Key, hit.Headers).Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        string line = server.WaitForStdout(l => l.Contains("\"msg\":\"ignored", StringComparison.Ordinal), Deadline);
        using var json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("ignored 3 hits: 2 bot, 1 key", json.RootElement.GetProperty("msg").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("ignored").GetInt64());
        Assert.Equal("{\"bot\":2,\"key\":1}", json.RootElement.GetProperty("reasons").GetRawText());
        Assert.True(await receiver.WaitForTotalAsync(1, Deadline));
    }

    [Fact]
    public async Task Header_values_of_any_size_or_shape_are_answered_200_and_decided()
    {
        await using var receiver = new EndpointReceiver();
        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"{receiver.Url}\", " +
            "\"ignorebots\": true, \"ignoreprefetch\": true, \"referrers\": [\"example.org\"], \"keys\": [\"*\"], " +
            "\"ignoreaddresses\": [\"198.51.100.0/24\"], \"trustedproxies\": [\"127.0.0.0/8\"], \"maxhitsperclient\": 1000 }", out int port);
        string big = new('x', 3000);
        string[] heads =
        [
            $"User-Agent: {big}\r\nReferer: https://example.org/{big}\r\nX-Forwarded-For: {string.Join(", ", Enumerable.Repeat("127.0.0.9", 300))}\r\n",
            $"X-Forwarded-For: {string.Join(",", Enumerable.Repeat("[::1]:1", 600))}\r\nForwarded: {big}\r\nSec-Purpose: prefetch;{big}\r\n",
            $"Forwarded: {string.Join(", ", Enumerable.Repeat("for=\"[2001:db8::1]:80\";by=x", 200))}\r\nReferer: \u00ff\u0080://\r\n",
            "User-Agent: \u00e9\u00ff\r\nReferer:\r\nX-Forwarded-For: ,,,\r\nForwarded: for=\"\r\nX-Moz: \r\nPurpose: ;;\r\n",
            $"Referer: https://example.org{big}\r\nX-Purpose: preview{big}\r\n",
        ];
        foreach (string head in heads)
        {
            using var client = new RawHttpClient(port);
            Assert.Equal(200, client.Request("/pixel.gif?key=k", head).Status);
        }

        // Counted: the first (an allowed Referer; behind trusted proxies only) and the fourth (an empty Referer counts as
        // none; a forwarding header with no address gives the peer). Ignored: a prefetch with a huge parameter, a Referer
        // that is not a URL, and one whose host only starts with an allowed one.
        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStdout(l => l == "--- flushed ---", Deadline);
        Assert.Equal("--- ignored 3 hits: 1 prefetch, 2 referrer", server.Stdout.Single(l => l.StartsWith("--- ignored", StringComparison.Ordinal)));
        Assert.Equal(2, receiver.Totals["k"]);
    }

    [Theory]
    [InlineData("\"referrers\": \"example.org\"", "\"referrers\" must be a list of at most 1000 strings")]
    [InlineData("\"referrers\": [\"https://example.org/\"]", "\"referrers\" item 1 must be a host name such as \"example.org\", without scheme or path")]
    [InlineData("\"ignoreaddresses\": [\"10.0.0.0/8\", \"10.0.0.300\"]", "\"ignoreaddresses\" item 2 must be an IPv4 or IPv6 address or CIDR block")]
    [InlineData("\"trustedproxies\": [\"192.168.1.0/16\"]", "\"trustedproxies\" item 1 must be a CIDR block with no address bits set past its prefix (did you mean 192.168.0.0/16?)")]
    [InlineData("\"trustedproxies\": [\"10.0.0.0/33\"]", "\"trustedproxies\" item 1 must be a CIDR block whose prefix length after '/' is a number from 0 to 32")]
    [InlineData("\"keys\": [\"story:*\", \"\"]", "\"keys\" item 2 must be a non-empty key pattern of at most 256 bytes")]
    [InlineData("\"keys\": [1]", "\"keys\" item 1 must be a string (got 1)")]
    [InlineData("\"maxhitsperclient\": -1", "\"maxhitsperclient\" must be an integer from 0 to")]
    [InlineData("\"ignorebots\": \"yes\"", "\"ignorebots\" must be true or false")]
    public void A_bad_filter_value_is_one_line_naming_the_key_and_exit_1(string entry, string message)
    {
        string dir = TempDir.Create();
        string path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, $"{{ \"port\": 0, {entry} }}");
        using ServerProcess check = ServerProcess.Start(dir, "--check", path);
        Assert.Equal(1, check.WaitForExit(Deadline));
        Assert.Contains(message, Assert.Single(check.Stderr), StringComparison.Ordinal);
    }

    [Fact]
    public void A_list_longer_than_1000_entries_is_refused()
    {
        string dir = TempDir.Create();
        string path = Path.Combine(dir, "config.json");
        string blocks = string.Join(", ", Enumerable.Range(0, 1001).Select(i => $"\"10.{i / 256}.{i % 256}.0/24\""));
        File.WriteAllText(path, $"{{ \"ignoreaddresses\": [{blocks}] }}");
        using ServerProcess check = ServerProcess.Start(dir, "--check", path);
        Assert.Equal(1, check.WaitForExit(Deadline));
        Assert.Contains("\"ignoreaddresses\" must be a list of at most 1000 strings (got 1001)", Assert.Single(check.Stderr), StringComparison.Ordinal);
    }

    [Fact]
    public void Check_prints_the_filters_in_force_and_the_example_config_shows_valid_ones()
    {
        // config.example.json carries the filters commented out; with the comment marks removed it must be valid.
        // --check binds the port as the start does: the example's 9187 may be taken by a server from the quick start.
        string example = File.ReadAllText(Path.Combine(Repo.Root, "config.example.json")).Replace("\"port\": 9187,", "\"port\": 0,", StringComparison.Ordinal);
        string[] filterKeys = ["ignorebots", "ignoreprefetch", "referrers", "requirereferrer", "keys", "ignoreaddresses", "trustedproxies", "maxhitsperclient"];
        string uncommented = string.Join('\n', example.Split('\n').Select(line =>
            filterKeys.Any(k => line.TrimStart().StartsWith($"// \"{k}\"", StringComparison.Ordinal)) ? line.Replace("// ", "", StringComparison.Ordinal) : line))
            .Replace("\"interval\": 10\n", "\"interval\": 10,\n", StringComparison.Ordinal);
        Assert.All(filterKeys, k => Assert.Contains($"\n  \"{k}\"", uncommented, StringComparison.Ordinal));
        string dir = TempDir.Create();
        string path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, uncommented);
        using ServerProcess check = ServerProcess.Start(dir, "--check", path);
        Assert.Equal(0, check.WaitForExit(Deadline));
        Assert.Contains(
            "filters:        ignoring bots, prefetches, referrers (2 allowed hosts, a hit without Referer counted), keys (2 patterns), " +
            "addresses (2 blocks ignored), at most 20 hits per client and key in a batch; client address from X-Forwarded-For/Forwarded " +
            "behind 1 trusted proxy blocks",
            check.Stdout);

        File.WriteAllText(path, example);
        using ServerProcess plain = ServerProcess.Start(dir, "--check", path);
        Assert.Equal(0, plain.WaitForExit(Deadline));
        Assert.Contains("filters:        none (every hit with a key is counted)", plain.Stdout);
    }
}
