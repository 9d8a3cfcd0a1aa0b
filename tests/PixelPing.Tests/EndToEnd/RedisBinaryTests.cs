using System.Globalization;
using System.Text;
using PixelPing.Flushing.Redis;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// The published executable with a <c>redis://</c> endpoint against a redis-server of the test's own (append-only file
/// synced on every write): every hit answered is in the totals hash and in its UTC day's hash exactly once, for
/// concurrent clients, through a kill -9 and restart of Redis, and through a SIGKILL of Pixel Ping after Redis stored a
/// batch whose answer never came.
/// </summary>
public sealed class RedisBinaryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly string _dir = TempDir.Create();

    private static string Config(string endpoint, double interval = 0.2, double timeout = 5) =>
        $$"""
        { "host": "127.0.0.1", "port": 0, "interval": {{interval.ToString(CultureInfo.InvariantCulture)}}, "timeout": {{timeout.ToString(CultureInfo.InvariantCulture)}},
          "endpoint": "{{endpoint}}", "spool": "spool.txt", "log": false }
        """;

    private static string Url(int port) => $"redis://:{Uri.EscapeDataString(Support.Redis.Password)}@127.0.0.1:{port}/0";

    /// <summary>A hash's fields (as UTF-8 text) and counts.</summary>
    private static async Task<Dictionary<string, long>> HashAsync(Support.Redis redis, string key)
    {
        RespReply reply = await redis.CommandAsync("HGETALL", key);
        RespReply[] items = reply.Items ?? [];
        var hash = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < items.Length; i += 2)
        {
            hash[Encoding.UTF8.GetString(items[i].Bytes!)] = long.Parse(items[i + 1].Text, CultureInfo.InvariantCulture);
        }

        return hash;
    }

    /// <summary>Every day hash's counts added up, per key; they must equal the totals hash.</summary>
    private static async Task<Dictionary<string, long>> DaysAsync(Support.Redis redis)
    {
        RespReply keys = await redis.CommandAsync("KEYS", "{pixel-ping}:hits:*");
        var sum = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (RespReply key in keys.Items ?? [])
        {
            Assert.Matches(@"^\{pixel-ping\}:hits:[0-9]{4}-[0-9]{2}-[0-9]{2}$", key.Text);
            foreach ((string field, long n) in await HashAsync(redis, key.Text))
            {
                sum[field] = sum.GetValueOrDefault(field) + n;
            }
        }

        return sum;
    }

    private static void Add(Dictionary<string, long> into, IReadOnlyDictionary<string, long> counts)
    {
        foreach ((string key, long n) in counts)
        {
            into[key] = into.GetValueOrDefault(key) + n;
        }
    }

    private static int Count(string[] lines, string start) => lines.Count(l => l.StartsWith(start, StringComparison.Ordinal));

    private static void Stop(ServerProcess server)
    {
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.DoesNotContain(server.Stderr, l => l.Contains("undelivered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_hit_answered_is_in_the_totals_and_in_its_days_hash_once_through_a_kill_and_restart_of_redis()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        var answered = new Dictionary<string, long>();
        using (ServerProcess server = ServerProcess.StartWithConfig(Config(Url(redis.Port), timeout: 2), out int port, _dir))
        {
            server.WaitForStdout(l => l.StartsWith("endpoint: Redis 7.", StringComparison.Ordinal) && l.EndsWith(", ready", StringComparison.Ordinal), Deadline);
            await using var hitter = new Hitter(port, PostgresBinaryTests.Keys, clients: 4);
            await hitter.WaitForMoreAsync(2000, Deadline);
            server.WaitForStdout(l => l == "--- flushed ---", Deadline);

            redis.Kill();
            await Wait.Until(() => Count(server.Stderr, "--- cannot connect to endpoint : ") >= 3, "flushes failing while Redis is down", Deadline);
            await hitter.WaitForMoreAsync(500, Deadline);
            await redis.StartAgainAsync();

            int before = Count(server.Stdout, "--- flushed ---");
            await Wait.Until(() => Count(server.Stdout, "--- flushed ---") > before + 1, "flushes after the restart", Deadline);
            await hitter.StopAsync();
            Add(answered, hitter.Answered);
            Stop(server);
        }

        Assert.Equal(answered, await HashAsync(redis, "{pixel-ping}:hits"));
        Assert.Equal(answered, await DaysAsync(redis));
    }

    [Fact]
    public async Task A_wrong_password_is_one_warning_line_in_check_which_still_passes()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        File.WriteAllText(Path.Combine(_dir, "check.json"), Config($"redis://:hunter2-wrong@127.0.0.1:{redis.Port}/0"));

        using ServerProcess check = ServerProcess.Start(_dir, "--check", "check.json");

        Assert.Equal(0, check.WaitForExit(Deadline));
        string line = Assert.Single(check.Stderr, l => l.StartsWith("endpoint:", StringComparison.Ordinal));
        Assert.StartsWith("endpoint: warning: ", line, StringComparison.Ordinal);
        Assert.Contains("WRONGPASS", line, StringComparison.Ordinal);
        Assert.DoesNotContain(check.Stdout.Concat(check.Stderr), l => l.Contains("hunter2", StringComparison.Ordinal));
        Assert.Contains(check.Stdout, l => l.EndsWith("configuration OK", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_SIGKILL_after_redis_stored_a_batch_whose_answer_never_came_counts_it_once_after_a_restart()
    {
        await using Support.Redis redis = await Support.Redis.StartAsync();
        using var proxy = new FaultyProxy(redis.Port);
        var answered = new Dictionary<string, long>();
        using (ServerProcess first = ServerProcess.StartWithConfig(Config(Url(proxy.Port), interval: 3600, timeout: 120), out int port, _dir))
        {
            first.WaitForStdout(l => l.StartsWith("endpoint: Redis ", StringComparison.Ordinal), Deadline);
            await using var hitter = new Hitter(port, PostgresBinaryTests.Keys);
            await hitter.WaitForMoreAsync(500, Deadline);
            await hitter.StopAsync();
            Add(answered, hitter.Answered);
            proxy.HoldAnswersFrom("EVALSHA"u8.ToArray());
            first.Signal(ServerProcess.SIGUSR2);
            await Wait.Until(async () => (await HashAsync(redis, "{pixel-ping}:hits")).Values.Sum() == answered.Values.Sum(), "the batch stored", Deadline);
            first.Signal(ServerProcess.SIGKILL);
            first.WaitForExit(Deadline);
        }

        proxy.ReleaseAnswers();
        using (ServerProcess second = ServerProcess.StartWithConfig(Config(Url(redis.Port)), out _, _dir))
        {
            second.WaitForStdout(l => l.StartsWith($"--- spool: loaded {answered.Values.Sum()} hits in 1 batch ", StringComparison.Ordinal), Deadline);
            second.WaitForStdout(l => l.StartsWith("--- endpoint: 1 of 1 parts were stored before and skipped", StringComparison.Ordinal), Deadline);
            Stop(second);
        }

        Assert.Equal(answered, await HashAsync(redis, "{pixel-ping}:hits"));
        Assert.Equal(answered, await DaysAsync(redis));
    }
}
