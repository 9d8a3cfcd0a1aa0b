using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using PixelPing.Counting;
using PixelPing.Flushing;
using PixelPing.Flushing.Redis;
using PixelPing.Tests.Support;
using PixelPing.Tls;

namespace PixelPing.Tests.Flushing.Redis;

/// <summary>Batches stored in a real redis-server, started by each test (Debian's redis-server).</summary>
public sealed class RedisStoreTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly DateOnly Day = new(2026, 3, 1);
    private static readonly RedisKeys Keys = MakeKeys(RedisKeys.DefaultPrefix);

    [Fact]
    public async Task The_probe_says_the_version_and_ready()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());

        Assert.Matches(@"^endpoint: Redis 7\.\d+\.\d+, ready$", await store.ProbeAsync(CancellationToken.None));
    }

    [Theory]
    [InlineData("redis://:not-the-password@127.0.0.1:{0}", "endpoint: warning: WRONGPASS invalid username-password pair or user is disabled.")]
    [InlineData("redis://127.0.0.1:{0}", "endpoint: warning: NOAUTH Authentication required.")]
    [InlineData("redis://pixel:not-the-password@127.0.0.1:{0}", "endpoint: warning: WRONGPASS invalid username-password pair or user is disabled.")]
    public async Task Wrong_credentials_are_one_warning_line_without_the_password_and_the_batch_is_refused(string url, string line)
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(new Uri(string.Format(System.Globalization.CultureInfo.InvariantCulture, url, redis.Port)));

        Assert.Equal(line, await store.ProbeAsync(CancellationToken.None));

        FlushOutcome outcome = await store.StoreAsync("b-1", Day, Entries(("a", 1)), CancellationToken.None);
        Assert.Equal(FlushResult.Refused, outcome.Result);
        Assert.Equal(line["endpoint: warning: ".Length..], outcome.Reason);
        Assert.Equal(0, (await redis.CommandAsync("DBSIZE")).Integer);
    }

    [Fact]
    public async Task An_ACL_user_authenticates_with_its_name_and_the_database_is_selected()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        Assert.True((await redis.CommandAsync("ACL", "SETUSER", "pixel", "on", ">pixel password", "~*", "+@all")).IsSimple("OK"u8));
        await using RedisStore store = Store(new Uri($"redis://pixel:pixel%20password@127.0.0.1:{redis.Port}/3"));

        Assert.Equal(FlushResult.Delivered, (await store.StoreAsync("b-1", Day, Entries(("a", 2), ("b", 3)), CancellationToken.None)).Result);

        string keyspace = (await redis.CommandAsync("INFO", "keyspace")).Text;
        // The two hashes and the ledger key, in database 3 and nowhere else.
        Assert.Matches(new Regex(@"^db3:keys=3,", RegexOptions.Multiline), keyspace);
        Assert.DoesNotContain("db0:", keyspace, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_hundred_thousand_distinct_keys_in_one_batch_sum_exactly()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        var random = new Random(20);
        KeyValuePair<byte[], long>[] entries = [.. Enumerable.Range(0, 100_000)
            .Select(i => KeyValuePair.Create(Encoding.UTF8.GetBytes($"/page/{i}?ref={random.Next()}"), (long)random.Next(1, 1000)))];

        FlushOutcome outcome = await store.StoreAsync("b-1", Day, entries, CancellationToken.None);

        Assert.True(outcome.Result == FlushResult.Delivered, outcome.Reason);
        AssertCounts(entries, await HashAsync(redis, Keys.Totals));
        AssertCounts(entries, await HashAsync(redis, Keys.Day(Day)));
        // One ledger key per part, each with the ledger's lifetime.
        int parts = (100_000 + RedisStore.PartKeys - 1) / RedisStore.PartKeys;
        RespReply ledger = await redis.CommandAsync("KEYS", "{pixel-ping}:batch:b-1:*");
        Assert.Equal(parts, ledger.Items!.Length);
        Assert.InRange((await redis.CommandAsync("TTL", ledger.Items[0].Bytes!)).Integer, 35 * 86400 - 60, 35 * 86400);
    }

    [Fact]
    public async Task Keys_with_every_byte_value_are_stored_as_they_are()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        var keys = new List<byte[]>();
        for (int b = 0; b < 256; b++)
        {
            keys.Add([(byte)b]);
            keys.Add([(byte)'k', (byte)b, (byte)'\r', (byte)'\n', (byte)b]);
        }

        keys.Add("*1\r\n$4\r\nPING\r\n"u8.ToArray());
        keys.Add([0xC3, 0x28, 0xFF, 0x00]);
        keys.Add([.. Enumerable.Repeat((byte)'x', 65_536)]);
        KeyValuePair<byte[], long>[] entries = [.. keys.Select((k, i) => KeyValuePair.Create(k, (long)i + 1))];

        FlushOutcome outcome = await store.StoreAsync("b-1", Day, entries, CancellationToken.None);

        Assert.True(outcome.Result == FlushResult.Delivered, outcome.Reason);
        AssertCounts(entries, await HashAsync(redis, Keys.Totals));
    }

    [Fact]
    public async Task A_resent_batch_adds_nothing()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        KeyValuePair<byte[], long>[] entries = Entries(("/a", 5), ("/b", 7));

        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-1", Day, entries, CancellationToken.None));
        FlushOutcome again = await store.StoreAsync("b-1", Day, entries, CancellationToken.None);

        Assert.Equal(FlushOutcome.Stored("1 of 1 parts were stored before and skipped"), again);
        AssertCounts(entries, await HashAsync(redis, Keys.Totals));
        AssertCounts(entries, await HashAsync(redis, Keys.Day(Day)));
    }

    [Fact]
    public async Task After_a_refused_part_a_resend_skips_the_parts_stored_before()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        KeyValuePair<byte[], long>[] entries = [.. Enumerable.Range(0, RedisStore.PartKeys + 10)
            .Select(i => KeyValuePair.Create(Encoding.UTF8.GetBytes($"/k/{i}"), 1L))];
        byte[] second = entries[RedisStore.PartKeys + 3].Key;
        // Someone else's value in a field of the second part: HINCRBY would fail on it halfway through the part.
        await redis.CommandAsync("HSET", Keys.Totals, second, "not a number");

        FlushOutcome refused = await store.StoreAsync("b-1", Day, entries, CancellationToken.None);

        Assert.Equal(FlushResult.Refused, refused.Result);
        Assert.Equal($"the field \"/k/{RedisStore.PartKeys + 3}\" of {{pixel-ping}}:hits holds something other than a whole number below 10^18: nothing was stored "
            + "(the first 1 of 2 parts were stored; a resend skips them)", refused.Reason);
        Dictionary<byte[], long> after = await HashAsync(redis, Keys.Day(Day));
        Assert.Equal(RedisStore.PartKeys, after.Count);
        Assert.DoesNotContain(entries[RedisStore.PartKeys].Key, after.Keys);

        await redis.CommandAsync("HDEL", Keys.Totals, second);
        FlushOutcome resent = await store.StoreAsync("b-1", Day, entries, CancellationToken.None);

        Assert.Equal(FlushOutcome.Stored("1 of 2 parts were stored before and skipped"), resent);
        AssertCounts(entries, await HashAsync(redis, Keys.Totals));
        AssertCounts(entries, await HashAsync(redis, Keys.Day(Day)));
    }

    [Theory]
    [InlineData(false, "SET", "WRONGTYPE {pixel-ping}:hits is a string, not a hash: nothing was stored")]
    [InlineData(true, "RPUSH", "WRONGTYPE {pixel-ping}:hits:2026-03-01 is a list, not a hash: nothing was stored")]
    public async Task A_key_of_another_type_refuses_the_batch_and_nothing_is_stored(bool day, string write, string reason)
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        byte[] taken = day ? Keys.Day(Day) : Keys.Totals;
        await redis.CommandAsync(write, taken, "someone else's");

        FlushOutcome outcome = await store.StoreAsync("b-1", Day, Entries(("/a", 1), ("/b", 2)), CancellationToken.None);

        Assert.Equal(FlushOutcome.Refused(reason), outcome);
        // Only the other program's key: neither hash was touched, and no ledger key says the batch is stored.
        Assert.Equal(1, (await redis.CommandAsync("DBSIZE")).Integer);
        Assert.Matches(@"^endpoint: warning: Redis 7\.\d+\.\d+: |^endpoint: Redis", await store.ProbeAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_probe_warns_of_a_totals_key_of_another_type()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        await redis.CommandAsync("SET", Keys.Totals, "x");

        Assert.Matches(@"^endpoint: warning: Redis 7\.\d+\.\d+: \{pixel-ping\}:hits is a string, not a hash: every flush would be refused$",
            await store.ProbeAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_connection_the_server_closed_between_flushes_is_replaced()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        KeyValuePair<byte[], long>[] first = Entries(("/a", 1));
        KeyValuePair<byte[], long>[] second = Entries(("/a", 2), ("/b", 3));
        Assert.Equal(FlushResult.Delivered, (await store.StoreAsync("b-1", Day, first, CancellationToken.None)).Result);

        // Every other client's connection: the store's kept one.
        Assert.Equal(1, (await redis.CommandAsync("CLIENT", "KILL", "TYPE", "normal")).Integer);
        long connections = await StatAsync(redis, "total_connections_received");
        FlushOutcome outcome = await store.StoreAsync("b-2", Day, second, CancellationToken.None);

        Assert.True(outcome.Result == FlushResult.Delivered, outcome.Reason);
        // One new connection for the store's flush, one for this look at the counter.
        Assert.Equal(connections + 2, await StatAsync(redis, "total_connections_received"));
        AssertCounts(Entries(("/a", 3), ("/b", 3)), await HashAsync(redis, Keys.Totals));
    }

    [Fact]
    public async Task A_batch_whose_answer_was_lost_is_sent_again_and_counted_once()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        using var proxy = new FaultyProxy(redis.Port);
        await using RedisStore store = Store(new Uri($"redis://:{Uri.EscapeDataString(Support.Redis.Password)}@127.0.0.1:{proxy.Port}"));
        KeyValuePair<byte[], long>[] entries = Entries(("/a", 1), ("/b", 2));
        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-1", Day, entries, CancellationToken.None));

        // The script of b-2 runs, and its answer is lost with the connection: the store sends it again on a new one,
        // where the part's ledger key says it is stored.
        proxy.CutNextAnswer();
        FlushOutcome outcome = await store.StoreAsync("b-2", Day, entries, CancellationToken.None);

        Assert.Equal(1, proxy.Cuts);
        Assert.Equal(FlushOutcome.Stored("1 of 1 parts were stored before and skipped"), outcome);
        AssertCounts(Entries(("/a", 2), ("/b", 4)), await HashAsync(redis, Keys.Totals));
    }

    [Fact]
    public async Task A_script_the_server_forgot_is_loaded_again()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        Assert.Equal(FlushResult.Delivered, (await store.StoreAsync("b-1", Day, Entries(("/a", 1)), CancellationToken.None)).Result);
        Assert.True((await redis.CommandAsync("SCRIPT", "FLUSH")).IsSimple("OK"u8));

        Assert.Equal(FlushResult.Delivered, (await store.StoreAsync("b-2", Day, Entries(("/a", 1)), CancellationToken.None)).Result);

        Assert.Equal(1, (await redis.CommandAsync("SCRIPT", "EXISTS", RedisScript.Sha1Hex)).Items![0].Integer);
        AssertCounts(Entries(("/a", 2)), await HashAsync(redis, Keys.Totals));
    }

    [Fact]
    public async Task Redis_killed_and_restarted_mid_run_counts_every_batch_once()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        await using RedisStore store = Store(redis.Url());
        var expected = new Dictionary<byte[], long>(KeyComparer.Instance);
        int failures = 0;
        bool restarted = false;
        int batch = 0;
        Task run = Task.Run(async () =>
        {
            // A flusher's loop: each batch is sent again, unchanged, until it is stored; new batches until the server
            // is back and a few more have gone through.
            int after = 0;
            while (!Volatile.Read(ref restarted) || after++ < 5)
            {
                batch++;
                KeyValuePair<byte[], long>[] entries = [.. Enumerable.Range(0, 2000)
                    .Select(i => KeyValuePair.Create(Encoding.UTF8.GetBytes($"/k/{(batch * 7919 + i) % 5000}"), (long)(batch % 5) + 1))];
                await Wait.Until(async () =>
                {
                    FlushOutcome outcome = await store.StoreAsync("b-" + batch, Day, entries, CancellationToken.None);
                    if (outcome.Result != FlushResult.Delivered)
                    {
                        Interlocked.Increment(ref failures);
                    }

                    return outcome.Result == FlushResult.Delivered;
                }, $"batch {batch} to be stored");
                foreach ((byte[] key, long count) in entries)
                {
                    expected[key] = expected.GetValueOrDefault(key) + count;
                }
            }
        });
        await Wait.Until(() => Volatile.Read(ref batch) >= 3, "three batches to be under way");

        redis.Kill();
        await redis.StartAgainAsync();
        Volatile.Write(ref restarted, true);
        await run;

        Assert.True(failures >= 1, "no flush saw the server down");
        AssertCounts([.. expected], await HashAsync(redis, Keys.Totals));
        AssertCounts([.. expected], await HashAsync(redis, Keys.Day(Day)));
    }

    [Fact]
    public async Task Persistence_that_exactly_once_cannot_rest_on_is_a_warning()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync(false, false, "appendonly no", "maxmemory-policy allkeys-lru");
        var warnings = new List<string>();
        await using var store = new RedisStore(Parse(redis.Url()), Keys, Timeout, TimeSpan.FromDays(35), null, warnings.Add);
        const string Problem = "appendonly is no, maxmemory-policy is allkeys-lru: exactly-once storage needs appendonly yes, "
            + "appendfsync always and maxmemory-policy noeviction (otherwise a crash can lose stored counts, and an eviction can "
            + "lose counts or let a resent batch count twice)";

        Assert.Matches(@"^endpoint: warning: Redis 7\.\d+\.\d+: " + Regex.Escape(Problem) + "$", await store.ProbeAsync(CancellationToken.None));
        Assert.Equal(FlushResult.Delivered, (await store.StoreAsync("b-1", Day, Entries(("/a", 1)), CancellationToken.None)).Result);
        Assert.Empty(warnings);

        // A new connection finds the same settings: said once at the start, not at every reconnection.
        await redis.CommandAsync("CLIENT", "KILL", "TYPE", "normal");
        Assert.Equal(FlushResult.Delivered, (await store.StoreAsync("b-2", Day, Entries(("/a", 1)), CancellationToken.None)).Result);
        Assert.Empty(warnings);

        // A change is said when a connection finds it.
        await redis.CommandAsync("CONFIG", "SET", "maxmemory-policy", "noeviction");
        await redis.CommandAsync("CLIENT", "KILL", "TYPE", "normal");
        Assert.Equal(FlushResult.Delivered, (await store.StoreAsync("b-3", Day, Entries(("/a", 1)), CancellationToken.None)).Result);
        Assert.Equal([$"endpoint: warning: 127.0.0.1:{redis.Port}: appendonly is no: exactly-once storage needs appendonly yes, "
            + "appendfsync always and maxmemory-policy noeviction (otherwise a crash can lose stored counts, and an eviction can "
            + "lose counts or let a resent batch count twice)"], warnings);
    }

    [Fact]
    public async Task A_user_without_CONFIG_is_served_and_the_probe_says_persistence_was_not_checked()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync(false, false, "appendonly no");
        Assert.True((await redis.CommandAsync("ACL", "SETUSER", "pixel", "on", ">pw", "~*", "+@all", "-config")).IsSimple("OK"u8));
        var warnings = new List<string>();
        await using var store = new RedisStore(Parse(new Uri($"redis://pixel:pw@127.0.0.1:{redis.Port}")), Keys, Timeout, TimeSpan.FromDays(35), null, warnings.Add);

        Assert.Matches(@"^endpoint: Redis 7\.\d+\.\d+, ready \(persistence not checked: CONFIG GET was refused\)$", await store.ProbeAsync(CancellationToken.None));
        Assert.Equal(FlushResult.Delivered, (await store.StoreAsync("b-1", Day, Entries(("/a", 1)), CancellationToken.None)).Result);
        Assert.Empty(warnings);
    }

    [Fact]
    public async Task Over_TLS_the_certificate_is_verified_against_endpointca()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync(tls: true);
        var url = new Uri($"rediss://:{Uri.EscapeDataString(Support.Redis.Password)}@127.0.0.1:{redis.TlsPort}");
        await using var trusting = new RedisStore(Parse(url), Keys, Timeout, TimeSpan.FromDays(35), EndpointTrust.TrustOnly([TestPki.Shared.Root]), _ => { });
        await using var other = new RedisStore(Parse(url), Keys, Timeout, TimeSpan.FromDays(35), EndpointTrust.TrustOnly([new TestPki("Other").Root]), _ => { });

        Assert.Matches(@"^endpoint: Redis 7\.\d+\.\d+, ready$", await trusting.ProbeAsync(CancellationToken.None));
        Assert.Equal(FlushResult.Delivered, (await trusting.StoreAsync("b-1", Day, Entries(("/a", 1)), CancellationToken.None)).Result);
        Assert.Equal($"endpoint: warning: 127.0.0.1:{redis.TlsPort}: TLS certificate verification failed: certificate not trusted: its issuer is unknown (a missing intermediate, or a CA that is not trusted)",
            await other.ProbeAsync(CancellationToken.None));
        Assert.Equal(FlushResult.ConnectError, (await other.StoreAsync("b-2", Day, Entries(("/a", 1)), CancellationToken.None)).Result);
        AssertCounts(Entries(("/a", 1)), await HashAsync(redis, Keys.Totals));
    }

    [Fact]
    public async Task A_server_that_does_not_answer_fails_the_flush_at_the_deadline()
    {
        // Accepts and reads, never answers.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        Task accept = Task.Run(async () =>
        {
            using Socket client = await silent.AcceptSocketAsync();
            byte[] buffer = new byte[4096];
            while (await client.ReceiveAsync(buffer) > 0)
            {
            }
        });
        var url = new Uri($"redis://:pw@127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}");
        await using var store = new RedisStore(Parse(url), Keys, TimeSpan.FromMilliseconds(300), TimeSpan.FromDays(35), null, _ => { });

        FlushOutcome outcome = await store.StoreAsync("b-1", Day, Entries(("/a", 1)), CancellationToken.None);

        Assert.Equal(FlushOutcome.Unreachable($"127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}: no answer within 0.3s"), outcome);
        silent.Stop();
    }

    [Fact]
    public async Task After_an_answer_that_came_too_late_the_connection_is_not_used_again()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        using var proxy = new FaultyProxy(redis.Port);
        var url = new Uri($"redis://:{Uri.EscapeDataString(Support.Redis.Password)}@127.0.0.1:{proxy.Port}");
        await using var store = new RedisStore(Parse(url), Keys, TimeSpan.FromMilliseconds(500), TimeSpan.FromDays(35), null, _ => { });
        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-1", Day, Entries(("/a", 1)), CancellationToken.None));

        // The probe's PING on the kept connection gets its answer only after the deadline.
        proxy.HoldAnswers();
        Assert.Equal($"endpoint: warning: 127.0.0.1:{proxy.Port}: no answer within 0.5s", await store.ProbeAsync(CancellationToken.None));
        proxy.ReleaseAnswers();

        // Read as the answer to the next command, that late +PONG would be taken for the script's.
        Assert.Equal(FlushOutcome.Stored(), await store.StoreAsync("b-2", Day, Entries(("/a", 1)), CancellationToken.None));
        AssertCounts(Entries(("/a", 2)), await HashAsync(redis, Keys.Totals));
    }

    [Fact]
    public async Task A_server_that_is_not_there_is_unreachable()
    {
        int port = Ports.Free();
        await using RedisStore store = Store(new Uri($"redis://:secret-pw@127.0.0.1:{port}"));

        Assert.Equal(FlushOutcome.Unreachable($"127.0.0.1:{port}: connection refused"),
            await store.StoreAsync("b-1", Day, Entries(("/a", 1)), CancellationToken.None));
        Assert.Equal($"endpoint: warning: 127.0.0.1:{port}: connection refused", await store.ProbeAsync(CancellationToken.None));
    }

    internal static RedisStore Store(Uri url, RedisKeys? keys = null) =>
        new(Parse(url), keys ?? Keys, Timeout, TimeSpan.FromDays(35), null, warning => Assert.Fail("unexpected warning: " + warning));

    internal static RedisEndpoint Parse(Uri url)
    {
        Assert.True(RedisEndpoint.TryParse(url, [], out RedisEndpoint endpoint, out string error), error);
        return endpoint;
    }

    internal static RedisKeys MakeKeys(string prefix)
    {
        Assert.True(RedisKeys.TryCreate(prefix, out RedisKeys keys, out string error), error);
        return keys;
    }

    internal static KeyValuePair<byte[], long>[] Entries(params (string Key, long Count)[] entries) =>
        [.. entries.Select(e => KeyValuePair.Create(Encoding.UTF8.GetBytes(e.Key), e.Count))];

    /// <summary>HGETALL of a hash: each field and its value as a number.</summary>
    internal static async Task<Dictionary<byte[], long>> HashAsync(Support.Redis node, byte[] hash)
    {
        RespReply all = await node.CommandAsync("HGETALL", hash);
        Assert.Equal(RespKind.Array, all.Kind);
        var fields = new Dictionary<byte[], long>(KeyComparer.Instance);
        for (int i = 0; i < all.Items!.Length; i += 2)
        {
            fields.Add(all.Items[i].Bytes!, long.Parse(all.Items[i + 1].Text, System.Globalization.CultureInfo.InvariantCulture));
        }

        return fields;
    }

    /// <summary>Exactly these keys with exactly these counts.</summary>
    internal static void AssertCounts(KeyValuePair<byte[], long>[] expected, Dictionary<byte[], long> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        foreach ((byte[] key, long count) in expected)
        {
            Assert.True(actual.TryGetValue(key, out long stored), $"key {Convert.ToHexString(key[..Math.Min(key.Length, 40)])} is missing");
            Assert.Equal(count, stored);
        }

        Assert.Equal(expected.Sum(e => e.Value), actual.Values.Sum());
    }

    private static async Task<long> StatAsync(Support.Redis redis, string name)
    {
        string stats = (await redis.CommandAsync("INFO", "stats")).Text;
        Match match = Regex.Match(stats, "^" + name + @":(\d+)", RegexOptions.Multiline);
        Assert.True(match.Success, name);
        return long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
