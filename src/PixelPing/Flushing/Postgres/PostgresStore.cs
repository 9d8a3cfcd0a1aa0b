using System.Globalization;
using System.Security.Cryptography;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// Writes batches of counts into PostgreSQL, exactly once per batch id, over one connection kept between flushes and
/// made again when lost.
/// <para>
/// One batch is one transaction: its id goes into the ledger (<c>INSERT … ON CONFLICT DO NOTHING</c>), and only when
/// that added a row are its counts added to the hits table, <c>hits = hits + excluded.hits</c>, from <c>unnest</c> of
/// binary arrays, then COMMIT. A batch resent after a lost answer finds its id and adds nothing. The keys go in the
/// order of their <c>key_hash</c>, so that writers sharing keys take the row locks in one order; a deadlock or
/// serialization failure that happens anyway (40P01, 40001) is retried at once, up to <see cref="Retries"/> times.
/// A batch of more than <see cref="KeysPerStatement"/> keys (or <see cref="BytesPerStatement"/> bytes of keys) is
/// several statements in the same transaction.
/// </para>
/// <para>
/// A deadline of <c>timeout</c> covers a whole write; the transaction's <c>statement_timeout</c> is a fifth shorter, so
/// a statement stuck on a lock usually ends on the server first, and when the deadline passes anyway a CancelRequest
/// stops it. Ledger rows older than the retention are deleted after a write, at most once an hour.
/// </para>
/// </summary>
internal sealed class PostgresStore : IEndpoint
{
    /// <summary>Keys per INSERT: large enough for few round trips, small enough for messages of a few megabytes.</summary>
    public const int KeysPerStatement = 10_000;

    /// <summary>Bytes of keys per INSERT (a message may hold 1 GB, but both sides keep it in memory whole).</summary>
    public const int BytesPerStatement = 8 << 20;

    /// <summary>How many times a transaction that lost a deadlock or a serialization conflict is run again.</summary>
    public const int Retries = 3;

    public static readonly TimeSpan DefaultRetention = TimeSpan.FromDays(35);

    private static readonly TimeSpan s_retentionEvery = TimeSpan.FromHours(1);

    private readonly PostgresEndpoint _endpoint;
    private readonly PostgresTables _tables;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _retention;
    private readonly SemaphoreSlim _turn = new(1, 1);

    private readonly string _createHits;
    private readonly string _createBatches;
    private readonly string _insertBatch;
    private readonly string _addHits;
    private readonly string _deleteOld;
    private readonly string _statementTimeoutMs;

    private PgConnection? _connection;
    private bool _tablesReady;
    private bool _canDelete;
    private long _nextRetention;

    public PostgresStore(PostgresEndpoint endpoint, PostgresTables tables, TimeSpan timeout, TimeSpan retention)
    {
        _endpoint = endpoint;
        _tables = tables;
        _timeout = timeout;
        _retention = retention;
        _statementTimeoutMs = ((long)Math.Max(1, timeout.TotalMilliseconds * 0.8)).ToString(CultureInfo.InvariantCulture);
        // The only text in these statements besides our own is the two table names, checked and quoted.
        _createHits = $"CREATE TABLE IF NOT EXISTS {tables.Hits} (key_hash bytea, day date, key text, hits bigint NOT NULL, PRIMARY KEY (key_hash, day))";
        _createBatches = $"CREATE TABLE IF NOT EXISTS {tables.Batches} (batch text PRIMARY KEY, hits bigint, keys integer, counted_from timestamptz, counted_to timestamptz, stored_at timestamptz DEFAULT now())";
        _insertBatch = $"INSERT INTO {tables.Batches} (batch, hits, keys, counted_from, counted_to) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (batch) DO NOTHING";
        _addHits = $"INSERT INTO {tables.Hits} AS h (key_hash, day, key, hits) SELECT k.key_hash, $1, k.key, k.hits FROM unnest($2, $3, $4) AS k(key_hash, key, hits) ON CONFLICT (key_hash, day) DO UPDATE SET hits = h.hits + EXCLUDED.hits";
        _deleteOld = $"DELETE FROM {tables.Batches} WHERE stored_at < now() - make_interval(secs => $1)";
    }

    /// <summary>
    /// Connects within <c>connect_timeout</c>, authenticates, makes or checks the tables and the rights, and says so in
    /// one line. The connection is kept for the first flush.
    /// </summary>
    public async Task<ProbeResult> ProbeAsync(CancellationToken cancellation)
    {
        await _turn.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            deadline.CancelAfter(_timeout);
            (StoreOutcome? problem, string? warning) = await ReadyAsync(deadline.Token).ConfigureAwait(false);
            if (problem is { } failed)
            {
                return new ProbeResult(false, "endpoint: warning: " + failed.Reason);
            }

            string version = _connection!.ServerVersion.Split(' ')[0];
            return new ProbeResult(true, $"endpoint: PostgreSQL {LogEscape.Text(version)}, tables ready" + (warning is null ? "" : "; warning: " + warning));
        }
        finally
        {
            _turn.Release();
        }
    }

    async Task<ProbeResult?> IEndpoint.ProbeAsync(CancellationToken cancellation) => await ProbeAsync(cancellation).ConfigureAwait(false);

    /// <summary>
    /// Stores a flush's batch under its UTC day: stored now or before (the ledger had its id) is delivered; a refusal
    /// that will last is <see cref="FlushResult.Refused"/>; anything that may pass is like an unreachable receiver.
    /// </summary>
    public async Task<FlushOutcome> SendAsync(Batch batch, Action? completing, CancellationToken cancellation)
    {
        StoreOutcome outcome = await WriteBatchAsync(batch.Id, batch.Day, DateTimeOffset.FromUnixTimeSeconds(batch.From),
            DateTimeOffset.FromUnixTimeSeconds(batch.To), batch.Entries, cancellation, completing).ConfigureAwait(false);
        return outcome.Result switch
        {
            StoreResult.Stored => FlushOutcome.Stored(outcome.Warning is null ? null : "warning: " + outcome.Warning),
            StoreResult.AlreadyStored => FlushOutcome.Stored("batch " + batch.Id + " was stored before (its answer was lost): nothing added"
                + (outcome.Warning is null ? "" : "; warning: " + outcome.Warning)),
            StoreResult.Refused => FlushOutcome.Refused(outcome.Reason ?? "refused"),
            _ => FlushOutcome.Unreachable(outcome.Reason ?? "failed"),
        };
    }

    /// <summary>
    /// Stores one batch: the counts of <paramref name="entries"/> under the UTC day <paramref name="day"/>, and the
    /// batch's ledger row with the times of its first and last hit. <paramref name="committing"/> is called before
    /// each COMMIT is sent: from then on the batch may be stored, whether or not the answer comes.
    /// </summary>
    public async Task<StoreOutcome> WriteBatchAsync(string batchId, DateOnly day, DateTimeOffset from, DateTimeOffset to,
        KeyValuePair<byte[], long>[] entries, CancellationToken cancellation, Action? committing = null)
    {
        Row[] rows = Sorted(entries);
        await _turn.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            deadline.CancelAfter(_timeout);
            bool reconnected = false;
            bool tablesAgain = false;
            int retries = 0;
            while (true)
            {
                bool kept = _connection is not null;
                (StoreOutcome? problem, _) = await ReadyAsync(deadline.Token).ConfigureAwait(false);
                if (problem is { } failed)
                {
                    return failed;
                }

                (PgResult result, bool added) = await TransactionAsync(_connection!, rows, batchId, day, from, to, committing, deadline.Token).ConfigureAwait(false);
                if (result.IsOk)
                {
                    string? warning = await DeleteOldBatchesAsync(deadline.Token).ConfigureAwait(false);
                    return new StoreOutcome(added ? StoreResult.Stored : StoreResult.AlreadyStored, null, warning);
                }

                if (_connection!.IsLost)
                {
                    await DropConnectionAsync().ConfigureAwait(false);
                    // A connection kept since the last flush may have died meanwhile (a server restart, an idle
                    // timeout): one new connection, and the whole transaction again; the ledger makes that safe.
                    if (kept && !reconnected && !deadline.IsCancellationRequested)
                    {
                        reconnected = true;
                        continue;
                    }

                    return StoreOutcome.Failed(TimedOut(deadline, cancellation, result.Line));
                }

                if (_connection.TransactionStatus != 'I' && !(await RollbackAsync(deadline.Token).ConfigureAwait(false)))
                {
                    return StoreOutcome.Failed(TimedOut(deadline, cancellation, result.Line));
                }

                switch (result.Error?.Code)
                {
                    case "40P01" or "40001" when retries < Retries:
                        retries++;
                        continue;
                    case "42P01" when !tablesAgain:
                        // A table dropped since it was checked: made again, once.
                        tablesAgain = true;
                        _tablesReady = false;
                        continue;
                }

                return result.Status == PgStatus.Refused || result.Error is { IsTransient: false }
                    ? StoreOutcome.Refused(result.Line)
                    : StoreOutcome.Failed(result.Line);
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            await DropConnectionAsync().ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>A connection, and the tables checked: null when ready, or why not; and a warning.</summary>
    private async Task<(StoreOutcome? Problem, string? Warning)> ReadyAsync(CancellationToken cancellation)
    {
        if (_connection is null)
        {
            (PgConnection? connection, PgResult connected) = await PgConnection.ConnectAsync(_endpoint, _timeout, cancellation).ConfigureAwait(false);
            if (connection is null)
            {
                return (Classify(connected), null);
            }

            _connection = connection;
        }

        if (_tablesReady)
        {
            return (null, null);
        }

        (StoreOutcome? problem, string? warning) = await EnsureTablesAsync(_connection, cancellation).ConfigureAwait(false);
        if (problem is not null && _connection.IsLost)
        {
            await DropConnectionAsync().ConfigureAwait(false);
        }

        _tablesReady = problem is null;
        return (problem, warning);
    }

    /// <summary>
    /// Creates the tables that are missing, then checks the rights a flush needs: SELECT, INSERT, UPDATE on the hits;
    /// SELECT, INSERT on the ledger. Without DELETE on the ledger the flushes work but its old rows stay (a warning).
    /// </summary>
    private async Task<(StoreOutcome? Problem, string? Warning)> EnsureTablesAsync(PgConnection connection, CancellationToken cancellation)
    {
        var names = new PgValues();
        names.Text(_tables.Hits);
        names.Text(_tables.Batches);
        PgResult exist = await connection.ExecuteAsync("SELECT to_regclass($1) IS NOT NULL, to_regclass($2) IS NOT NULL", names, cancellation).ConfigureAwait(false);
        if (!exist.IsOk || exist.Rows is not [var flags])
        {
            return (Classify(exist), null);
        }

        foreach ((string table, string sql, string? present) in new[] { (_tables.Hits, _createHits, flags[0]), (_tables.Batches, _createBatches, flags[1]) })
        {
            if (present == "t")
            {
                continue;
            }

            PgResult created = await connection.ExecuteAsync(sql, null, cancellation).ConfigureAwait(false);
            // Another node creating the same table at the same moment: one of the two gets 42P07 (or 23505 on the
            // catalog's unique index), and the table exists either way.
            if (!created.IsOk && created.Error?.Code is not ("42P07" or "23505"))
            {
                StoreOutcome why = Classify(created);
                return (why.Result == StoreResult.Refused
                    ? StoreOutcome.Refused($"the table {LogEscape.Text(table)} is missing and cannot be created: {why.Reason}")
                    : why, null);
            }
        }

        PgResult rights = await connection.ExecuteAsync(
            "SELECT has_table_privilege($1, 'SELECT'), has_table_privilege($1, 'INSERT'), has_table_privilege($1, 'UPDATE'), " +
            "has_table_privilege($2, 'INSERT'), has_table_privilege($2, 'SELECT'), has_table_privilege($2, 'DELETE')",
            names, cancellation).ConfigureAwait(false);
        if (!rights.IsOk || rights.Rows is not [var granted] || granted.Length != 6)
        {
            return (Classify(rights), null);
        }

        // ON CONFLICT needs SELECT on its target's columns besides INSERT (and UPDATE for DO UPDATE).
        string missingHits = Missing(granted, ("SELECT", 0), ("INSERT", 1), ("UPDATE", 2));
        string missingLedger = Missing(granted, ("SELECT", 4), ("INSERT", 3));
        if (missingHits.Length > 0 || missingLedger.Length > 0)
        {
            string what = missingHits.Length > 0 ? $"{missingHits} on {_tables.Hits}" : $"{missingLedger} on {_tables.Batches}";
            return (StoreOutcome.Refused(LogEscape.Text($"user {Quoting.Quote(_endpoint.User)} lacks {what}: " +
                $"it needs SELECT, INSERT, UPDATE on {_tables.Hits} and SELECT, INSERT, DELETE on {_tables.Batches}")), null);
        }

        _canDelete = granted[5] == "t";
        return (null, _canDelete ? null : LogEscape.Text(
            $"user {Quoting.Quote(_endpoint.User)} lacks DELETE on {_tables.Batches}, so ledger rows older than the retention are not deleted"));
    }

    private static string Missing(string?[] granted, params (string Right, int Column)[] rights) =>
        string.Join(", ", rights.Where(r => granted[r.Column] != "t").Select(r => r.Right));

    private async Task<(PgResult Result, bool Added)> TransactionAsync(PgConnection connection, Row[] rows, string batchId, DateOnly day,
        DateTimeOffset from, DateTimeOffset to, Action? committing, CancellationToken cancellation)
    {
        PgResult result = await connection.ExecuteAsync("BEGIN", null, cancellation).ConfigureAwait(false);
        if (!result.IsOk)
        {
            return (result, false);
        }

        // A statement that waits on a lock ends on the server before our deadline, as an error that says so. Set for
        // the transaction only (SET LOCAL): behind a PgBouncer in transaction mode a session setting would stay on
        // a server connection that other clients get next.
        var timeout = new PgValues();
        timeout.Text(_statementTimeoutMs);
        result = await connection.ExecuteAsync("SELECT set_config('statement_timeout', $1, true)", timeout, cancellation).ConfigureAwait(false);
        if (!result.IsOk)
        {
            return (result, false);
        }

        long hits = 0;
        foreach (Row row in rows)
        {
            hits += row.Hits;
        }

        var ledger = new PgValues();
        ledger.Text(batchId);
        ledger.Int64(hits);
        ledger.Int32(rows.Length);
        ledger.TimestampTz(from);
        ledger.TimestampTz(to);
        result = await connection.ExecuteAsync(_insertBatch, ledger, cancellation).ConfigureAwait(false);
        if (!result.IsOk)
        {
            return (result, false);
        }

        if (result.Tag != "INSERT 0 1")
        {
            // The id is in the ledger already: this batch was stored before, and its answer lost.
            result = await connection.ExecuteAsync("ROLLBACK", null, cancellation).ConfigureAwait(false);
            return (result, false);
        }

        int start = 0;
        while (start < rows.Length)
        {
            int end = start;
            long bytes = 0;
            while (end < rows.Length && end - start < KeysPerStatement && (end == start || bytes + rows[end].Key.Length <= BytesPerStatement))
            {
                bytes += rows[end].Key.Length;
                end++;
            }

            result = await connection.ExecuteAsync(_addHits, Counts(day, rows.AsSpan(start, end - start)), cancellation).ConfigureAwait(false);
            if (!result.IsOk)
            {
                return (result, false);
            }

            start = end;
        }

        committing?.Invoke();
        result = await connection.ExecuteAsync("COMMIT", null, cancellation).ConfigureAwait(false);
        // A COMMIT in a failed transaction answers ROLLBACK: not stored.
        return result.IsOk && result.Tag != "COMMIT" ? (PgResult.Lost("the transaction was rolled back at COMMIT"), false) : (result, true);
    }

    private static PgValues Counts(DateOnly day, ReadOnlySpan<Row> rows)
    {
        var values = new PgValues();
        values.Date(day);
        values.StartArray(PgType.ByteaArray, PgType.Bytea);
        foreach (Row row in rows)
        {
            values.Element(row.Hash);
        }

        values.EndArray();
        values.StartArray(PgType.TextArray, PgType.Text);
        foreach (Row row in rows)
        {
            values.KeyTextElement(row.Key);
        }

        values.EndArray();
        values.StartArray(PgType.Int8Array, PgType.Int8);
        foreach (Row row in rows)
        {
            values.Element(row.Hits);
        }

        values.EndArray();
        return values;
    }

    /// <summary>
    /// Ledger retention, after a stored batch and at most once an hour: a batch id older than the retention is
    /// forgotten, so a spooled batch that old would be counted again if it came back. A failure here does not fail
    /// the flush; it is a warning.
    /// </summary>
    private async Task<string?> DeleteOldBatchesAsync(CancellationToken cancellation)
    {
        if (!_canDelete || Environment.TickCount64 < _nextRetention)
        {
            return null;
        }

        _nextRetention = Environment.TickCount64 + (long)s_retentionEvery.TotalMilliseconds;
        var age = new PgValues();
        age.Float8(_retention.TotalSeconds);
        PgResult deleted = await _connection!.ExecuteAsync(_deleteOld, age, cancellation).ConfigureAwait(false);
        if (_connection.IsLost)
        {
            await DropConnectionAsync().ConfigureAwait(false);
        }

        return deleted.IsOk ? null : "deleting old ledger rows failed: " + deleted.Line;
    }

    private async Task<bool> RollbackAsync(CancellationToken cancellation)
    {
        PgResult result = await _connection!.ExecuteAsync("ROLLBACK", null, cancellation).ConfigureAwait(false);
        if (!result.IsOk || _connection.IsLost)
        {
            await DropConnectionAsync().ConfigureAwait(false);
            return false;
        }

        return true;
    }

    private async Task DropConnectionAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
            _connection = null;
        }
    }

    /// <summary>A refusal the database will repeat until someone changes something, or a failure that may pass.</summary>
    private static StoreOutcome Classify(PgResult result) =>
        result.Status == PgStatus.Refused || result.Error is { IsTransient: false }
            ? StoreOutcome.Refused(result.Line)
            : StoreOutcome.Failed(result.Line);

    private string TimedOut(CancellationTokenSource deadline, CancellationToken cancellation, string reason) =>
        deadline.IsCancellationRequested && !cancellation.IsCancellationRequested
            ? $"timed out after {_timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s; {reason}"
            : reason;

    /// <summary>The batch's keys with their SHA-256, in hash order (the order rows are locked in); equal keys merged.</summary>
    private static Row[] Sorted(KeyValuePair<byte[], long>[] entries)
    {
        var rows = new Row[entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            rows[i] = new Row(SHA256.HashData(entries[i].Key), entries[i].Key, entries[i].Value);
        }

        Array.Sort(rows, static (a, b) => a.Hash.AsSpan().SequenceCompareTo(b.Hash));
        int kept = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            // One row may be touched once per statement (ON CONFLICT DO UPDATE); a batch never repeats a key, but a
            // repeat must not fail the flush.
            if (kept > 0 && rows[kept - 1].Hash.AsSpan().SequenceEqual(rows[i].Hash))
            {
                rows[kept - 1] = rows[kept - 1] with { Hits = rows[kept - 1].Hits + rows[i].Hits };
                continue;
            }

            rows[kept++] = rows[i];
        }

        return kept == rows.Length ? rows : rows[..kept];
    }

    private readonly record struct Row(byte[] Hash, byte[] Key, long Hits);
}
