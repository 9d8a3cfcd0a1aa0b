using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// The published executable with a <c>postgresql://</c> endpoint against the tests' own PostgreSQL 15: every hit
/// answered is in <c>pixel_ping_hits</c> exactly once, through a SIGKILL with a spool, a crash and restart of the
/// database, a COMMIT whose answer is lost, <c>discard</c>, a wrong password, and three instances writing the same keys.
/// </summary>
[Collection("Postgres")]
public sealed class PostgresBinaryTests(PostgresServer database, ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    // Keys a browser can send that a text column cannot hold as they are (NUL, the escape character), and the longest
    // key maxkeylength allows by default.
    internal static readonly (string Query, string Key)[] Keys =
    [
        .. FaultInjectionTests.Keys,
        ("nul%00byte", "nul\0byte"), ("back%5Cslash", "back\\slash"), (new string('L', 1024), new string('L', 1024)),
    ];

    private readonly string _dir = TempDir.Create();

    // Each test its own tables.
    private readonly string _prefix = "e" + Guid.NewGuid().ToString("N")[..12] + "_";

    private string Uri(string user = PostgresServer.Owner, string password = PostgresServer.OwnerPassword, int? port = null) =>
        port is null
            ? database.Uri(user, password, $"sslmode=verify-full&sslrootcert={database.RootCertificate}")
            : $"postgresql://{user}:{System.Uri.EscapeDataString(password)}@127.0.0.1:{port}/{PostgresServer.Database}?sslmode=disable";

    private string Config(string endpoint, double interval = 0.2, double timeout = 5, bool spool = true, bool discard = false, string extra = "") =>
        $$"""
        { "host": "127.0.0.1", "port": 0, "interval": {{interval.ToString(CultureInfo.InvariantCulture)}}, "timeout": {{timeout.ToString(CultureInfo.InvariantCulture)}},
          "endpoint": "{{endpoint}}", "prefix": "{{_prefix}}", {{(spool ? "\"spool\": \"spool.txt\"," : "")}} "discard": {{(discard ? "true" : "false")}},
          "log": false {{extra}} }
        """;

    private ServerProcess Start(string json, out int port, string? directory = null) => ServerProcess.StartWithConfig(json, out port, directory ?? _dir);

    private string Sql(string sql) => database.Psql(sql, PostgresServer.Database);

    /// <summary>The counts stored so far, per key's SHA-256 in hex (the table's own key): hits summed over days.</summary>
    private Dictionary<string, long> Stored()
    {
        string rows = Sql($"SELECT to_regclass('public.{_prefix}hits') IS NOT NULL");
        if (rows != "t")
        {
            return [];
        }

        return Sql($"SELECT encode(key_hash, 'hex') || ' ' || sum(hits) FROM public.{_prefix}hits GROUP BY key_hash")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .ToDictionary(cells => cells[0], cells => long.Parse(cells[1], CultureInfo.InvariantCulture));
    }

    private static Dictionary<string, long> ByHash(IReadOnlyDictionary<string, long> answered) =>
        answered.ToDictionary(p => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(p.Key))), p => p.Value);

    private static void Add(Dictionary<string, long> into, IReadOnlyDictionary<string, long> counts)
    {
        foreach ((string key, long n) in counts)
        {
            into[key] = into.GetValueOrDefault(key) + n;
        }
    }

    private static int Count(string[] lines, string start) => lines.Count(l => l.StartsWith(start, StringComparison.Ordinal));

    private static void AssertReady(ServerProcess server) =>
        server.WaitForStdout(l => l.StartsWith("endpoint: PostgreSQL 15.", StringComparison.Ordinal) && l.EndsWith(", tables ready", StringComparison.Ordinal), Deadline);

    private void Stop(ServerProcess server)
    {
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.DoesNotContain(server.Stderr, l => l.Contains("undelivered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_hit_answered_to_concurrent_clients_is_in_the_table_once_under_its_UTC_day()
    {
        DateOnly first = DateOnly.FromDateTime(DateTime.UtcNow);
        var answered = new Dictionary<string, long>();
        using (ServerProcess server = Start(Config(Uri()), out int port))
        {
            AssertReady(server);
            await using var hitter = new Hitter(port, Keys, clients: 4);
            await hitter.WaitForMoreAsync(3000, Deadline);
            server.WaitForStdout(l => l == "--- flushed ---", Deadline);
            await hitter.WaitForMoreAsync(1000, Deadline);
            await hitter.StopAsync();
            Add(answered, hitter.Answered);
            Stop(server);
            Assert.True(Count(server.Stdout, "--- flushed ---") >= 2);
        }

        DateOnly last = DateOnly.FromDateTime(DateTime.UtcNow);
        output.WriteLine($"{answered.Values.Sum()} hits answered in {Sql($"SELECT count(*) FROM public.{_prefix}batches")} batches");
        Assert.Equal(ByHash(answered), Stored());
        Assert.Equal(answered.Values.Sum().ToString(CultureInfo.InvariantCulture), Sql($"SELECT sum(hits) FROM public.{_prefix}batches"));
        // Each batch on one day: the day of its first hit, which is the day its counts are under.
        Assert.Equal("0", Sql($"SELECT count(*) FROM public.{_prefix}batches WHERE counted_from > counted_to " +
            $"OR (counted_from AT TIME ZONE 'UTC')::date <> (counted_to AT TIME ZONE 'UTC')::date"));
        Assert.All(Sql($"SELECT DISTINCT day FROM public.{_prefix}hits").Split('\n'),
            day => Assert.InRange(DateOnly.Parse(day, CultureInfo.InvariantCulture), first, last));
        // The key text: NUL as \x00 and the backslash doubled, so that both are stored and told apart from their escapes.
        Assert.Equal("nul\\x00byte|back\\\\slash", Sql(
            $"SELECT string_agg(DISTINCT key, '|' ORDER BY key DESC) FROM public.{_prefix}hits WHERE key LIKE 'nul%' OR key LIKE 'back%'"));
        Assert.False(File.Exists(Path.Combine(_dir, "spool.txt")));
    }

    [Fact]
    public async Task A_SIGKILL_after_the_database_committed_a_batch_whose_answer_never_came_counts_it_once_after_a_restart()
    {
        // The proxy holds back the answer to COMMIT: the batch is stored, the flush still waits for the answer, and the
        // spool file holds the batch when the process is killed. The restart sends it again, and the ledger has its id.
        using var proxy = new FaultyProxy(database.Port);
        var answered = new Dictionary<string, long>();
        using (ServerProcess first = Start(Config(Uri(port: proxy.Port), interval: 3600, timeout: 120), out int port))
        {
            AssertReady(first);
            await using var hitter = new Hitter(port, Keys);
            await hitter.WaitForMoreAsync(500, Deadline);
            await hitter.StopAsync();
            Add(answered, hitter.Answered);
            proxy.HoldAnswersFrom("COMMIT\0"u8.ToArray());
            first.Signal(ServerProcess.SIGUSR2);
            await Wait.Until(() => Stored().Values.Sum() == answered.Values.Sum(), "the batch committed", Deadline);
            first.Signal(ServerProcess.SIGKILL);
            first.WaitForExit(Deadline);
            Assert.DoesNotContain(first.Stdout, l => l == "--- flushed ---");
        }

        Assert.True(File.Exists(Path.Combine(_dir, "spool.txt")));
        proxy.ReleaseAnswers();
        using (ServerProcess second = Start(Config(Uri()), out _))
        {
            second.WaitForStdout(l => l.StartsWith($"--- spool: loaded {answered.Values.Sum()} hits in 1 batch ", StringComparison.Ordinal), Deadline);
            second.WaitForStdout(l => l.StartsWith("--- endpoint: batch ", StringComparison.Ordinal) && l.EndsWith(" was stored before (its answer was lost): nothing added", StringComparison.Ordinal), Deadline);
            Stop(second);
        }

        Assert.Equal(ByHash(answered), Stored());
        Assert.Equal("1", Sql($"SELECT count(*) FROM public.{_prefix}batches"));
        Assert.False(File.Exists(Path.Combine(_dir, "spool.txt")));
    }

    [Fact]
    public async Task A_COMMIT_whose_answer_is_dropped_is_sent_again_and_counted_once()
    {
        using var proxy = new FaultyProxy(database.Port);
        var answered = new Dictionary<string, long>();
        using (ServerProcess server = Start(Config(Uri(port: proxy.Port), interval: 3600), out int port))
        {
            AssertReady(server);
            await using var hitter = new Hitter(port, Keys);
            await hitter.WaitForMoreAsync(500, Deadline);
            await hitter.StopAsync();
            Add(answered, hitter.Answered);
            proxy.CutAnswerTo("COMMIT\0"u8.ToArray());
            server.Signal(ServerProcess.SIGUSR2);
            server.WaitForStdout(l => l.StartsWith("--- endpoint: batch ", StringComparison.Ordinal) && l.EndsWith(" was stored before (its answer was lost): nothing added", StringComparison.Ordinal), Deadline);
            server.WaitForStdout(l => l == "--- flushed ---", Deadline);
            Stop(server);
        }

        Assert.Equal(1, proxy.Cuts);
        Assert.Equal(ByHash(answered), Stored());
        Assert.Equal("1", Sql($"SELECT count(*) FROM public.{_prefix}batches"));
    }

    [Fact]
    public async Task The_database_crashing_and_restarting_mid_run_loses_no_hit_and_counts_none_twice()
    {
        var answered = new Dictionary<string, long>();
        using (ServerProcess server = Start(Config(Uri(), interval: 0.2, timeout: 2), out int port))
        {
            AssertReady(server);
            await using var hitter = new Hitter(port, Keys);
            await hitter.WaitForMoreAsync(500, Deadline);
            server.WaitForStdout(l => l == "--- flushed ---", Deadline);
            try
            {
                database.Crash();
                await Wait.Until(() => Count(server.Stderr, "--- cannot connect to endpoint : ") >= 3, "flushes failing while the database is down", Deadline);
                await hitter.WaitForMoreAsync(500, Deadline);
            }
            finally
            {
                database.Restart();
            }

            int before = Count(server.Stdout, "--- flushed ---");
            await Wait.Until(() => Count(server.Stdout, "--- flushed ---") > before + 1, "flushes after the restart", Deadline);
            await hitter.StopAsync();
            Add(answered, hitter.Answered);
            Stop(server);
        }

        Assert.Equal(ByHash(answered), Stored());
    }

    [Fact]
    public async Task With_discard_a_refused_batch_is_dropped_and_the_refusal_said_once()
    {
        // The reader may log in but has no right on the tables, which do not exist, and may not create them.
        int status = Ports.Free();
        var answered = new Dictionary<string, long>();
        using (ServerProcess server = Start(Config(Uri(PostgresServer.Reader, PostgresServer.ReaderPassword), spool: false, discard: true,
            extra: $", \"status\": \"127.0.0.1:{status}\""), out int port))
        {
            string warning = server.WaitForStderr(l => l.StartsWith("endpoint: warning: ", StringComparison.Ordinal), Deadline);
            Assert.Contains("is missing and cannot be created: permission denied for schema public", warning, StringComparison.Ordinal);
            await using var hitter = new Hitter(port, Keys);
            await hitter.WaitForMoreAsync(300, Deadline);
            await Wait.Until(() => FailedFlushes(status) >= 4, "four refused flushes", Deadline);
            await hitter.StopAsync();
            Add(answered, hitter.Answered);
            server.Signal(ServerProcess.SIGTERM);
            server.WaitForExit(Deadline);

            Assert.Equal(1, Count(server.Stderr, "--- flush failed: "));
            long discarded = server.Stderr.Where(l => l.StartsWith("--- discarded batch ", StringComparison.Ordinal))
                .Sum(l => long.Parse(l[(l.LastIndexOf('(') + 1)..l.LastIndexOf(" hits)", StringComparison.Ordinal)], CultureInfo.InvariantCulture));
            Assert.Equal(answered.Values.Sum(), discarded);
        }

        Assert.Empty(Stored());
    }

    private static double FailedFlushes(int statusPort)
    {
        using var client = new RawHttpClient(statusPort);
        RawResponse metrics = client.Request("/metrics");
        return Scrape.Parse(Encoding.UTF8.GetString(metrics.Body)).GetValueOrDefault("pixelping_flushes_total{result=\"failure\"}");
    }

    [Fact]
    public async Task A_wrong_password_is_one_warning_in_check_and_at_start_and_the_batch_waits_for_the_right_one()
    {
        const string Wrong = "not-the-password";
        int status = Ports.Free();
        string wrongConfig = Config(Uri(password: Wrong), extra: $", \"status\": \"127.0.0.1:{status}\"");
        File.WriteAllText(Path.Combine(_dir, "wrong.json"), wrongConfig);
        const string Refusal = "password authentication failed for user \"pixel\" (SQLSTATE 28P01)";

        using (ServerProcess check = ServerProcess.Start(_dir, "--check", "wrong.json"))
        {
            Assert.Equal(0, check.WaitForExit(Deadline));
            Assert.Equal(["endpoint: warning: " + Refusal], check.Stderr.Where(l => l.StartsWith("endpoint:", StringComparison.Ordinal)));
            Assert.Contains(check.Stdout, l => l.EndsWith("configuration OK", StringComparison.Ordinal));
            Assert.DoesNotContain(check.Stdout.Concat(check.Stderr), l => l.Contains(Wrong, StringComparison.Ordinal));
        }

        var answered = new Dictionary<string, long>();
        using (ServerProcess server = ServerProcess.Start(_dir, Path.Combine(_dir, "wrong.json")))
        {
            int port = server.WaitForPort();
            Assert.Equal("endpoint: warning: " + Refusal,
                server.WaitForStderr(l => l.StartsWith("endpoint:", StringComparison.Ordinal), Deadline));
            await using var hitter = new Hitter(port, Keys);
            await hitter.WaitForMoreAsync(300, Deadline);
            await hitter.StopAsync();
            Add(answered, hitter.Answered);
            await Wait.Until(() => FailedFlushes(status) >= 4, "four refused flushes", Deadline);
            Assert.Equal(["--- flush failed: " + Refusal], server.Stderr.Where(l => l.StartsWith("--- flush failed", StringComparison.Ordinal)));
            server.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, server.WaitForExit(Deadline));
            Assert.DoesNotContain(server.Stdout.Concat(server.Stderr), l => l.Contains(Wrong, StringComparison.Ordinal));
        }

        Assert.Empty(Stored());
        using (ServerProcess server = Start(Config(Uri()), out _))
        {
            server.WaitForStdout(l => l.StartsWith($"--- spool: loaded {answered.Values.Sum()} hits", StringComparison.Ordinal), Deadline);
            server.WaitForStdout(l => l == "--- flushed ---", Deadline);
            Stop(server);
        }

        Assert.Equal(ByHash(answered), Stored());
    }

    [Theory]
    [InlineData("wrong password", "password authentication failed for user \"pixel\" (SQLSTATE 28P01)")]
    [InlineData("another name", "127.0.0.2")]
    [InlineData("no such database", "database \"nope\" does not exist (SQLSTATE 3D000)")]
    [InlineData("not UTF8", "LATIN1")]
    public void A_database_that_cannot_be_used_is_one_warning_line_in_check_which_still_passes(string fault, string says)
    {
        string tls = $"sslmode=verify-full&sslrootcert={database.RootCertificate}";
        string uri = fault switch
        {
            "wrong password" => database.Uri(PostgresServer.Owner, "hunter2-wrong", tls),
            "another name" => database.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, tls, host: "127.0.0.2"),
            "no such database" => database.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, tls, database: "nope"),
            _ => database.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, tls, database: "latin1"),
        };
        File.WriteAllText(Path.Combine(_dir, "check.json"), Config(uri));

        using ServerProcess check = ServerProcess.Start(_dir, "--check", "check.json");

        Assert.Equal(0, check.WaitForExit(Deadline));
        string line = Assert.Single(check.Stderr, l => l.StartsWith("endpoint:", StringComparison.Ordinal));
        output.WriteLine(line);
        Assert.StartsWith("endpoint: warning: ", line, StringComparison.Ordinal);
        Assert.Contains(says, line, StringComparison.Ordinal);
        Assert.DoesNotContain(check.Stdout.Concat(check.Stderr), l => l.Contains("hunter2", StringComparison.Ordinal) || l.Contains(PostgresServer.OwnerPassword, StringComparison.Ordinal));
        Assert.Contains(check.Stdout, l => l.EndsWith("configuration OK", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Three_instances_flushing_the_same_keys_every_100_ms_into_one_database_keep_exact_totals()
    {
        // 150 flushes each (15 s or more) rather than a minute, for the suite's time; every flush of each instance
        // takes the same keys' row locks.
        var servers = new List<ServerProcess>();
        var hitters = new List<Hitter>();
        var answered = new Dictionary<string, long>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                string dir = Path.Combine(_dir, "n" + i.ToString(CultureInfo.InvariantCulture));
                Directory.CreateDirectory(dir);
                servers.Add(Start(Config(Uri(), interval: 0.1), out int port, dir));
                hitters.Add(new Hitter(port, Keys, clients: 2));
            }

            await Wait.Until(() => servers.All(s => Count(s.Stdout, "--- flushed ---") >= 150),
                "150 flushes by each of the three", TimeSpan.FromSeconds(120));
            foreach (Hitter hitter in hitters)
            {
                await hitter.StopAsync();
                Add(answered, hitter.Answered);
            }

            foreach (ServerProcess server in servers)
            {
                Stop(server);
                Assert.DoesNotContain(server.Stderr, l => l.StartsWith("--- flush failed", StringComparison.Ordinal) || l.StartsWith("--- cannot connect", StringComparison.Ordinal));
            }

            output.WriteLine($"{answered.Values.Sum()} hits, {string.Join(", ", servers.Select(s => Count(s.Stdout, "--- flushed ---")))} flushes");
        }
        finally
        {
            foreach (Hitter hitter in hitters)
            {
                await hitter.DisposeAsync();
            }

            foreach (ServerProcess server in servers)
            {
                server.Dispose();
            }
        }

        Assert.Equal(ByHash(answered), Stored());
    }
}
