using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using PixelPing.Flushing;
using PixelPing.Flushing.Postgres;
using PixelPing.Tests.Support;
using PixelPing.Tests.Vectors;

namespace PixelPing.Tests.Flushing.Postgres;

/// <summary>The store against a real PostgreSQL 15: tables and rights, exact sums, exactly once, reconnects, locks and cancels.</summary>
[Trait("Kind", "External")]
[Collection("Postgres")]
public sealed class PostgresStoreTests(PostgresServer server)
{
    private static readonly DateOnly Day = new(2026, 3, 1);
    private static readonly DateTimeOffset From = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset To = new(2026, 3, 1, 10, 0, 9, TimeSpan.Zero);

    // Each test its own tables, so that tests and reruns do not see each other's rows.
    private readonly string _prefix = "t" + Guid.NewGuid().ToString("N")[..12] + "_";

    private string Hits => $"public.{_prefix}hits";

    private string Batches => $"public.{_prefix}batches";

    private PostgresStore Store(string? query = null, string user = PostgresServer.Owner, string password = PostgresServer.OwnerPassword,
        TimeSpan? timeout = null, string schema = PostgresTables.DefaultSchema, string? prefix = null, TimeSpan? retention = null)
    {
        PostgresUriResult parsed = PostgresUri.Parse(server.Uri(user, password, query ?? $"sslmode=verify-full&sslrootcert={server.RootCertificate}"));
        Assert.Empty(parsed.Errors);
        Assert.True(PostgresTables.TryCreate(schema, prefix ?? _prefix, out PostgresTables? tables, out string error), error);
        return new PostgresStore(parsed.Endpoint!, tables!, timeout ?? TimeSpan.FromSeconds(60), retention ?? PostgresStore.DefaultRetention);
    }

    private static KeyValuePair<byte[], long>[] Entries(params (string Key, long Hits)[] entries) =>
        [.. entries.Select(e => new KeyValuePair<byte[], long>(Encoding.UTF8.GetBytes(e.Key), e.Hits))];

    private static async Task AssertStored(StoreOutcome outcome, StoreResult expected = StoreResult.Stored)
    {
        Assert.True(outcome.Result == expected, $"{outcome.Result}: {outcome.Reason}");
        await Task.CompletedTask;
    }

    private string Sql(string sql) => server.Psql(sql, PostgresServer.Database);

    [Fact]
    public async Task The_probe_creates_the_tables_and_says_the_servers_version()
    {
        await using PostgresStore store = Store();

        ProbeResult probe = await store.ProbeAsync(CancellationToken.None);

        string version = Sql("SHOW server_version").Split(' ')[0];
        Assert.Equal($"endpoint: PostgreSQL {version}, tables ready", probe.Line);
        Assert.True(probe.Ready);
        Assert.Equal("key_hash bytea,day date,key text,hits bigint", Sql(
            $"SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '{Hits}'::regclass AND attnum > 0"));
        Assert.Equal("batch text,hits bigint,keys integer,counted_from timestamp with time zone,counted_to timestamp with time zone,stored_at timestamp with time zone", Sql(
            $"SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '{Batches}'::regclass AND attnum > 0"));
    }

    [Fact]
    public async Task A_wrong_password_is_the_probes_warning_without_the_password()
    {
        await using PostgresStore store = Store(password: "not-the-password-42");

        ProbeResult probe = await store.ProbeAsync(CancellationToken.None);

        Assert.False(probe.Ready);
        Assert.Equal("endpoint: warning: password authentication failed for user \"pixel\" (SQLSTATE 28P01)", probe.Line);
    }

    [Fact]
    public async Task Missing_tables_that_the_user_may_not_create_are_a_refusal()
    {
        await using PostgresStore store = Store(user: PostgresServer.Reader, password: PostgresServer.ReaderPassword);

        ProbeResult probe = await store.ProbeAsync(CancellationToken.None);
        StoreOutcome write = await store.WriteBatchAsync("b1", Day, From, To, Entries(("a", 1)), CancellationToken.None);

        string reason = $"the table \"public\".\"{_prefix}hits\" is missing and cannot be created: permission denied for schema public (SQLSTATE 42501)";
        Assert.Equal("endpoint: warning: " + reason, probe.Line);
        Assert.Equal(StoreOutcome.Refused(reason), write);
    }

    [Fact]
    public async Task Missing_rights_are_named_and_the_ledgers_DELETE_is_only_a_warning()
    {
        await using (PostgresStore owner = Store())
        {
            Assert.True((await owner.ProbeAsync(CancellationToken.None)).Ready);
        }

        string needs = $"it needs SELECT, INSERT, UPDATE on \"public\".\"{_prefix}hits\" and SELECT, INSERT, DELETE on \"public\".\"{_prefix}batches\"";
        await using (PostgresStore reader = Store(user: PostgresServer.Reader, password: PostgresServer.ReaderPassword))
        {
            Assert.Equal($"endpoint: warning: user \"reader\" lacks SELECT, INSERT, UPDATE on \"public\".\"{_prefix}hits\": {needs}",
                (await reader.ProbeAsync(CancellationToken.None)).Line);
        }

        Sql($"GRANT SELECT, INSERT, UPDATE ON {Hits} TO reader; GRANT INSERT ON {Batches} TO reader;");
        await using (PostgresStore reader = Store(user: PostgresServer.Reader, password: PostgresServer.ReaderPassword))
        {
            Assert.Equal($"endpoint: warning: user \"reader\" lacks SELECT on \"public\".\"{_prefix}batches\": {needs}",
                (await reader.ProbeAsync(CancellationToken.None)).Line);
        }

        Sql($"GRANT SELECT ON {Batches} TO reader;");
        await using (PostgresStore reader = Store(user: PostgresServer.Reader, password: PostgresServer.ReaderPassword))
        {
            ProbeResult probe = await reader.ProbeAsync(CancellationToken.None);
            Assert.True(probe.Ready);
            Assert.EndsWith($", tables ready; warning: user \"reader\" lacks DELETE on \"public\".\"{_prefix}batches\", so ledger rows older than the retention are not deleted", probe.Line, StringComparison.Ordinal);
            await AssertStored(await reader.WriteBatchAsync("r1", Day, From, To, Entries(("a", 2)), CancellationToken.None));
        }

        Sql($"GRANT DELETE ON {Batches} TO reader;");
        await using (PostgresStore reader = Store(user: PostgresServer.Reader, password: PostgresServer.ReaderPassword))
        {
            Assert.EndsWith(", tables ready", (await reader.ProbeAsync(CancellationToken.None)).Line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task One_batch_of_100000_distinct_keys_is_stored_exactly()
    {
        var entries = new KeyValuePair<byte[], long>[100_000];
        long total = 0;
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = new(Encoding.UTF8.GetBytes("https://example.org/page/" + i.ToString(CultureInfo.InvariantCulture)), (i % 7) + 1);
            total += (i % 7) + 1;
        }

        await using PostgresStore store = Store();
        StoreOutcome outcome = await store.WriteBatchAsync("big-1", Day, From, To, entries, CancellationToken.None);

        await AssertStored(outcome);
        Assert.Equal($"100000|{total}|2026-03-01", Sql($"SELECT count(*), sum(hits), min(day) FROM {Hits}"));
        Assert.Equal($"{total}|100000|2026-03-01 10:00:00+00|2026-03-01 10:00:09+00", Sql(
            $"SET TIME ZONE 'UTC'; SELECT hits, keys, counted_from, counted_to FROM {Batches} WHERE batch = 'big-1'"));
        Assert.Equal("5", Sql($"SELECT hits FROM {Hits} WHERE key = 'https://example.org/page/99999'"));
    }

    [Fact]
    public async Task A_batch_of_more_key_bytes_than_one_statement_holds_is_one_transaction()
    {
        // 300 keys of 65,536 bytes: about 19 MB, past the 8 MiB a statement carries.
        KeyValuePair<byte[], long>[] entries = [.. Enumerable.Range(0, 300).Select(i =>
            new KeyValuePair<byte[], long>(Encoding.ASCII.GetBytes(i.ToString("d5", CultureInfo.InvariantCulture) + new string('k', 65_531)), i + 1))];

        await using PostgresStore store = Store();
        await AssertStored(await store.WriteBatchAsync("long-1", Day, From, To, entries, CancellationToken.None));

        Assert.Equal($"300|{300 * 301 / 2}|65536|65536", Sql($"SELECT count(*), sum(hits), min(length(key)), max(length(key)) FROM {Hits}"));
        Assert.Equal($"{300 * 301 / 2}|300", Sql($"SELECT hits, keys FROM {Batches}"));
    }

    [Fact]
    public async Task Keys_with_every_byte_value_NUL_and_invalid_UTF8_are_stored_whole_under_their_hash()
    {
        var keys = new List<byte[]>();
        for (int b = 0; b < 256; b++)
        {
            keys.Add([(byte)b]);
            keys.Add([(byte)'k', (byte)b, (byte)'k']);
        }

        keys.Add("a\0b"u8.ToArray());
        keys.Add("\\x00"u8.ToArray());
        keys.Add("\\\\"u8.ToArray());
        keys.Add([0xED, 0xA0, 0x80]);
        keys.Add([0xF4, 0x90, 0x80, 0x80, 0x00, 0x5C]);
        byte[] longest = new byte[65_536];
        new Random(7).NextBytes(longest);
        keys.Add(longest);
        keys.AddRange(KeyVectors.All.Where(v => v.Counted).Select(v => Encoding.UTF8.GetBytes(v.Key)));
        KeyValuePair<byte[], long>[] entries = [.. keys.DistinctBy(Convert.ToHexString).Select((k, i) => new KeyValuePair<byte[], long>(k, i + 1))];

        await using PostgresStore store = Store();
        await AssertStored(await store.WriteBatchAsync("bytes-1", Day, From, To, entries, CancellationToken.None));

        // Read back as hex: the hash, the text's UTF-8, the count.
        string[] rows = Sql($"SELECT encode(key_hash, 'hex') || ' ' || encode(convert_to(key, 'UTF8'), 'hex') || ' ' || hits FROM {Hits}").Split('\n');
        Assert.Equal(entries.Length, rows.Length);
        var stored = rows.Select(r => r.Split(' ')).ToDictionary(r => r[0], r => (Text: Convert.FromHexString(r[1]), Hits: long.Parse(r[2], CultureInfo.InvariantCulture)));
        foreach ((byte[] key, long hits) in entries)
        {
            (byte[] text, long count) = stored[Convert.ToHexStringLower(SHA256.HashData(key))];
            Assert.Equal(key, KeyTextDecoder.Decode(text));
            Assert.Equal(hits, count);
        }
    }

    [Fact]
    public async Task A_batch_sent_again_adds_nothing()
    {
        await using PostgresStore store = Store();
        KeyValuePair<byte[], long>[] entries = Entries(("a", 3), ("b", 4));

        await AssertStored(await store.WriteBatchAsync("same-1", Day, From, To, entries, CancellationToken.None));
        await AssertStored(await store.WriteBatchAsync("same-1", Day, From, To, entries, CancellationToken.None), StoreResult.AlreadyStored);
        await AssertStored(await store.WriteBatchAsync("same-2", Day, From, To, entries, CancellationToken.None));
        await AssertStored(await store.WriteBatchAsync("same-3", Day.AddDays(1), From, To, Entries(("a", 5)), CancellationToken.None));

        Assert.Equal("a|2026-03-01|6\na|2026-03-02|5\nb|2026-03-01|8", Sql($"SELECT key, day, hits FROM {Hits} ORDER BY key, day"));
        Assert.Equal("same-1|7\nsame-2|7\nsame-3|5", Sql($"SELECT batch, hits FROM {Batches} ORDER BY batch"));
    }

    [Fact]
    public async Task A_connection_killed_between_flushes_is_made_again()
    {
        string application = "kill-" + _prefix;
        await using PostgresStore store = Store($"sslmode=verify-full&sslrootcert={server.RootCertificate}&application_name={application}");
        await AssertStored(await store.WriteBatchAsync("k1", Day, From, To, Entries(("a", 1)), CancellationToken.None));

        Assert.Equal("t", Sql($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{application}'"));
        await Wait.Until(() => Sql($"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{application}'") == "0", "the backend is gone");

        await AssertStored(await store.WriteBatchAsync("k2", Day, From, To, Entries(("a", 2)), CancellationToken.None));
        Assert.Equal("3", Sql($"SELECT hits FROM {Hits} WHERE key = 'a'"));
        Assert.Equal("1", Sql($"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{application}'"));
    }

    [Fact]
    public async Task Concurrent_writers_with_overlapping_keys_all_store_and_the_totals_are_exact()
    {
        const int Writers = 4;
        const int BatchesEach = 8;
        string[] shared = [.. Enumerable.Range(0, 3000).Select(i => "shared-" + i.ToString(CultureInfo.InvariantCulture))];
        var stores = Enumerable.Range(0, Writers).Select(_ => Store()).ToArray();
        try
        {
            Assert.All(await Task.WhenAll(stores.Select(s => s.ProbeAsync(CancellationToken.None))), p => Assert.True(p.Ready, p.Line));
            StoreOutcome[][] outcomes = await Task.WhenAll(stores.Select((store, w) => Task.Run(async () =>
            {
                var results = new List<StoreOutcome>();
                for (int b = 0; b < BatchesEach; b++)
                {
                    // Each batch in its own random order, plus keys of its own: the store sorts them by hash.
                    var random = new Random((w * 100) + b);
                    KeyValuePair<byte[], long>[] entries = [.. shared.OrderBy(_ => random.Next()).Select(k => new KeyValuePair<byte[], long>(Encoding.UTF8.GetBytes(k), 2))
                        .Append(new(Encoding.UTF8.GetBytes($"own-{w}-{b}"), 1))];
                    results.Add(await store.WriteBatchAsync($"w{w}-b{b}", Day, From, To, entries, CancellationToken.None));
                }

                return results.ToArray();
            })));

            Assert.All(outcomes.SelectMany(o => o), o => Assert.True(o.Result == StoreResult.Stored, o.Reason));
            Assert.Equal($"3000|{2 * Writers * BatchesEach}|{2 * Writers * BatchesEach}", Sql(
                $"SELECT count(*), min(hits), max(hits) FROM {Hits} WHERE key LIKE 'shared-%'"));
            Assert.Equal($"{Writers * BatchesEach}", Sql($"SELECT sum(hits) FROM {Hits} WHERE key LIKE 'own-%'"));
        }
        finally
        {
            foreach (PostgresStore store in stores)
            {
                await store.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_statement_waiting_on_a_lock_is_stopped_by_a_cancel_request()
    {
        string application = "cancel-" + _prefix;
        // A long timeout, so the session's statement_timeout (a fifth shorter) cannot be what ends the wait.
        await using PostgresStore store = Store($"sslmode=verify-full&sslrootcert={server.RootCertificate}&application_name={application}",
            timeout: TimeSpan.FromMinutes(10));
        Assert.True((await store.ProbeAsync(CancellationToken.None)).Ready);
        using var holder = server.OpenSession("holder-" + _prefix);
        try
        {
            holder.StandardInput.WriteLine($"BEGIN; LOCK TABLE {Hits} IN EXCLUSIVE MODE;");
            holder.StandardInput.Flush();
            await Wait.Until(() => Sql($"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'holder-{_prefix}' AND l.relation = '{Hits}'::regclass AND l.granted") == "1",
                "the other session holds the lock");

            using var stop = new CancellationTokenSource();
            Task<StoreOutcome> write = store.WriteBatchAsync("c1", Day, From, To, Entries(("a", 1)), stop.Token);
            string waiting = $"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{application}' AND wait_event_type = 'Lock'";
            await Wait.Until(() => Sql(waiting) == "1", "the store's statement waits for the lock");
            await stop.CancelAsync();
            StoreOutcome outcome = await write;

            Assert.Equal(StoreOutcome.Failed("the statement was stopped on the server with a cancel request"), outcome);
            // The lock is still held: only the cancel request can have ended the wait.
            await Wait.Until(() => Sql(waiting) == "0", "the cancelled statement no longer waits");
            Assert.Equal("0", Sql($"SELECT count(*) FROM {Batches}"));
        }
        finally
        {
            holder.StandardInput.WriteLine("ROLLBACK;");
            holder.StandardInput.Close();
            holder.WaitForExit(30_000);
        }
    }

    [Fact]
    public async Task The_statement_timeout_ends_a_wait_on_the_server_before_the_deadline()
    {
        await using PostgresStore store = Store(timeout: TimeSpan.FromSeconds(2));
        Assert.True((await store.ProbeAsync(CancellationToken.None)).Ready);
        using var holder = server.OpenSession("holder-" + _prefix);
        try
        {
            holder.StandardInput.WriteLine($"BEGIN; LOCK TABLE {Hits} IN EXCLUSIVE MODE;");
            holder.StandardInput.Flush();
            await Wait.Until(() => Sql($"SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'holder-{_prefix}' AND l.relation = '{Hits}'::regclass AND l.granted") == "1",
                "the other session holds the lock");

            StoreOutcome outcome = await store.WriteBatchAsync("s1", Day, From, To, Entries(("a", 1)), CancellationToken.None);

            Assert.Equal(StoreOutcome.Failed("canceling statement due to statement timeout (SQLSTATE 57014)"), outcome);
        }
        finally
        {
            holder.StandardInput.WriteLine("ROLLBACK;");
            holder.StandardInput.Close();
            holder.WaitForExit(30_000);
        }

        await AssertStored(await store.WriteBatchAsync("s1", Day, From, To, Entries(("a", 1)), CancellationToken.None));
    }

    [Fact]
    public async Task Ledger_rows_older_than_the_retention_are_deleted()
    {
        await using PostgresStore store = Store(retention: TimeSpan.FromDays(35));
        Assert.True((await store.ProbeAsync(CancellationToken.None)).Ready);
        Sql($"INSERT INTO {Batches} (batch, stored_at) VALUES ('old', now() - interval '36 days'), ('recent', now() - interval '34 days')");

        await AssertStored(await store.WriteBatchAsync("new", Day, From, To, Entries(("a", 1)), CancellationToken.None));

        Assert.Equal("new\nrecent", Sql($"SELECT batch FROM {Batches} ORDER BY batch"));
    }

    [Fact]
    public async Task The_schema_and_the_prefix_are_taken_literally()
    {
        Sql($"CREATE SCHEMA \"Pixel Stats\" AUTHORIZATION {PostgresServer.Owner}");
        try
        {
            await using PostgresStore store = Store(schema: "Pixel Stats", prefix: "My\"" + _prefix);
            await AssertStored(await store.WriteBatchAsync("q1", Day, From, To, Entries(("a", 9)), CancellationToken.None));

            Assert.Equal("9", Sql($"SELECT hits FROM \"Pixel Stats\".\"My\"\"{_prefix}hits\""));
        }
        finally
        {
            Sql("DROP SCHEMA \"Pixel Stats\" CASCADE");
        }
    }

    [Fact]
    public async Task A_table_dropped_after_the_check_is_made_again()
    {
        await using PostgresStore store = Store();
        await AssertStored(await store.WriteBatchAsync("d1", Day, From, To, Entries(("a", 1)), CancellationToken.None));
        Sql($"DROP TABLE {Hits}");

        await AssertStored(await store.WriteBatchAsync("d2", Day, From, To, Entries(("a", 2)), CancellationToken.None));

        Assert.Equal("2", Sql($"SELECT hits FROM {Hits}"));
    }
}
