using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using PixelPing.Counting;
using static System.FormattableString;

namespace PixelPing.Flushing;

/// <summary>
/// Sends the counts to the endpoint every interval, on SIGUSR2, when the key cap is reached, and at shutdown.
/// Flushes never overlap: a trigger that arrives during a flush causes one more flush after it. A batch the endpoint
/// did not accept is kept and sent again, unchanged and before any newer hits, unless <c>discard</c> is set. With a
/// spool file, every batch taken from the store is on disk until the endpoint accepts it (see <see cref="Spool"/>).
/// </summary>
internal sealed class Flusher
{
    // What a key costs besides its bytes: the array's header, its dictionary entry and bucket, its batch entry.
    private const int ReleasedOverheadPerKey = 100;
    private const long CollectAfterReleasedBytes = 4 << 20;

    private readonly HitStore _store;
    private readonly EndpointClient? _client;
    private readonly FlushOptions _options;
    // No maximum count: a request that races a timed-out wait may leave one extra release behind, which costs one
    // extra (usually empty) flush; a maximum of 1 would make that Release throw in a signal handler or in a hit.
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _gate = new(1, 1);
    // Unique per process start, so batch ids never repeat across instances or restarts: the start time in
    // milliseconds and 31 random bits. Not Guid or RandomNumberGenerator: the first needs /dev/urandom, which an empty
    // root may lack, and the second initialises OpenSSL at startup for nothing (a megabyte of RSS).
    private readonly string _instance = string.Create(CultureInfo.InvariantCulture,
        $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds():x}{(uint)Random.Shared.Next():x8}");

    private readonly Spool? _spool;
    private int _wakeRequested;
    private long _sequence;
    private long _delivered;
    private long _failed;
    private long _deliveredHits;
    private long _lastDeliveredMs;

    // Batches taken from the store (or loaded from the spool) that the endpoint has not accepted, oldest first.
    // Replaced, never changed in place, and only under _gate; readers on other threads see a consistent array.
    private Batch[] _pending = [];

    // The batch whose POST is in progress, if any: a second stop signal counts (and spools) it as undelivered, since
    // its answer will never be read.
    private Batch? _sending;
    private bool _saidCapped;

    // Bytes of keys (and their share of the store's tables) in batches dropped since the last collection.
    private long _released;

    public Flusher(HitStore store, EndpointClient? client, FlushOptions options, Spool? spool = null)
    {
        _store = store;
        _client = client;
        _options = options;
        _spool = spool;
    }

    /// <summary>The oldest batch that failed (or came from the spool) and waits to be sent again, if any.</summary>
    public Batch? Kept => Volatile.Read(ref _pending) is [Batch first, ..] ? first : null;

    /// <summary>How many batches wait to be sent again.</summary>
    public int PendingCount => Volatile.Read(ref _pending).Length;

    /// <summary>POSTs the endpoint accepted since the start.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>POSTs that failed (an error status, no answer in time, no connection) since the start.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Hits in the batches the endpoint accepted since the start.</summary>
    public long DeliveredHits => Interlocked.Read(ref _deliveredHits);

    /// <summary>When the endpoint last accepted a batch (Unix milliseconds); 0 before the first.</summary>
    public long LastDeliveredUnixMs => Interlocked.Read(ref _lastDeliveredMs);

    /// <summary>Asks for a flush as soon as possible; requests made while one is pending are merged.</summary>
    public void Request()
    {
        if (Interlocked.Exchange(ref _wakeRequested, 1) == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>Flushes every interval and on request until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        long intervalMs = Math.Max(1, (long)_options.Interval.TotalMilliseconds);
        long next = Environment.TickCount64 + intervalMs;
        while (!stop.IsCancellationRequested)
        {
            long wait = next - Environment.TickCount64;
            if (wait > 0)
            {
                try
                {
                    await _wake.WaitAsync(TimeSpan.FromMilliseconds(wait), stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            if (Environment.TickCount64 >= next)
            {
                next += intervalMs;
                if (next <= Environment.TickCount64)
                {
                    // A flush that outlasted whole intervals does not cause a burst of catch-up flushes.
                    next = Environment.TickCount64 + intervalMs;
                }
            }

            Volatile.Write(ref _wakeRequested, 0);
            try
            {
                await FlushAsync().ConfigureAwait(false);
                CollectReleased();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One broken flush must not end the loop: the batch stays pending and the next interval tries again.
                Log.Error($"--- flush failed: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    /// <summary>One flush: the waiting batches first, oldest first, then the hits counted since. True when nothing is left undelivered.</summary>
    public async Task<bool> FlushAsync()
    {
        using (await EnterGateAsync().ConfigureAwait(false))
        {
            if (_client is null)
            {
                // No endpoint: the counts stay, and each flush logs them cumulatively, as the original does.
                Snapshot held = _store.Peek();
                ReportUncounted(held);
                if (held.RefusedFull > 0 && !_saidCapped)
                {
                    // Nothing is ever taken from the store in this mode, so the cap, once reached, stays reached.
                    _saidCapped = true;
                    Log.Error(Invariant($"--- maxkeys ({_store.MaxKeys}) distinct keys held: without an endpoint the counts are kept for the whole run, so new keys are refused until a restart"));
                }

                if (_options.LogKeys)
                {
                    Log.Keys(held.Entries);
                }

                return true;
            }

            // Older batches first, in order; while one fails, newer hits stay in the store (where maxkeys bounds
            // them) instead of piling up as more batches.
            Batch[] pending = _pending;
            int done = 0;
            while (done < pending.Length)
            {
                if (!await SendAsync(pending[done]).ConfigureAwait(false))
                {
                    if (!_options.Discard)
                    {
                        break;
                    }

                    // discard: a batch that failed is dropped, whether it failed first now or came from the spool.
                    Log.Error(Invariant($"--- discarded batch {pending[done].Id} ({pending[done].Hits} hits)"));
                }

                done++;
            }

            if (done > 0)
            {
                SetPending(pending[done..]);
                Checkpoint();
                foreach (Batch gone in pending[..done])
                {
                    Release(gone);
                }
            }

            if (done < pending.Length)
            {
                return false;
            }

            Snapshot snapshot = _store.Take();
            ReportUncounted(snapshot);
            if (_options.LogKeys)
            {
                Log.Keys(snapshot.Entries);
            }

            if (snapshot.Entries.Length == 0)
            {
                // Nothing to send: no request (the original POSTed json={} every interval).
                return true;
            }

            Batch batch = MakeBatch(snapshot.Entries);
            if (_spool is not null)
            {
                // Written before the POST, so that a crash during the flush loses nothing already taken from memory;
                // a crash after the endpoint stored it only means a resend with the same id, which it ignores.
                SetPending([batch]);
                Checkpoint();
            }

            if (await SendAsync(batch).ConfigureAwait(false))
            {
                if (_spool is not null)
                {
                    SetPending([]);
                    Checkpoint();
                }

                Release(batch);
                return true;
            }

            SetPending(_options.Discard ? [] : [batch]);
            if (_options.Discard)
            {
                Release(batch);
                if (_spool is not null)
                {
                    Checkpoint();
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Startup: loads the spool file, if one is configured and present, so that its batches are sent before any new
    /// hit. A file that cannot be trusted is moved aside (and said so), never loaded in part and never fatal.
    /// </summary>
    public void LoadSpool()
    {
        if (_spool is null)
        {
            return;
        }

        if (_spool.CheckDirectory() is { } problem)
        {
            Log.Error("--- spool: warning: " + problem);
            if (!Directory.Exists(_spool.Directory))
            {
                return;
            }
        }

        switch (_spool.Load(out List<Batch> batches, out string reason))
        {
            case SpoolLoadStatus.Loaded:
                // Each with its own id, after any already waiting; the body's length and signature are this run's.
                Batch[] restored = batches.Where(b => b.Entries.Length > 0).Select(b => MakeBatch(b.Entries, b.Id)).ToArray();
                using (EnterGate())
                {
                    SetPending([.. _pending, .. restored]);
                }

                Log.Out(Invariant($"--- spool: loaded {Batch.SumHits(restored)} hits in {Batches(restored.Length)} from {_spool.Path}; sending them first"));
                break;

            case SpoolLoadStatus.Corrupt:
                string? aside = _spool.MoveAside(DateTime.UtcNow, out string error);
                Log.Error(aside is not null
                    ? $"--- spool: {_spool.Path} is unreadable ({reason}); moved it to {aside} and started without it"
                    : $"--- spool: {_spool.Path} is unreadable ({reason}) and could not be moved aside ({error}); started without it, and the next save will replace it");
                break;
        }
    }

    /// <summary>
    /// Shutdown, after the last flush: whatever is still undelivered (the waiting batches, then any hits left in the
    /// store as one more batch) is written to the spool file, or, without one, counted in a log line. Returns the
    /// number of hits not delivered.
    /// </summary>
    public async Task<long> SaveUndeliveredAsync()
    {
        using (await EnterGateAsync().ConfigureAwait(false))
        {
            if (_client is null)
            {
                return 0;
            }

            Snapshot left = _store.Take();
            ReportUncounted(left);
            Batch[] undelivered = _pending;
            if (left.Entries.Length > 0)
            {
                undelivered = [.. undelivered, MakeBatch(left.Entries)];
            }

            long hits = Batch.SumHits(undelivered);

            if (_spool is null)
            {
                if (hits > 0)
                {
                    // Without the spool file these hits are gone; say how many, so nobody has to guess.
                    Log.Error(Invariant($"--- exiting with {hits} hits undelivered"));
                }

                return hits;
            }

            SetPending(undelivered);
            if (!Checkpoint())
            {
                Log.Error(Invariant($"--- exiting with {hits} hits undelivered"));
            }
            else if (hits > 0)
            {
                Log.Out(Invariant($"--- spool: wrote {hits} undelivered hits in {Batches(undelivered.Length)} to {_spool.Path}"));
            }

            return hits;
        }
    }

    /// <summary>
    /// A second stop signal: the process exits at once, without waiting for a flush in progress. What is undelivered
    /// — the waiting batches, the one being sent, and the hits still in the store — is written to the spool file when
    /// one is configured (and no save after this one may replace it), and counted in
    /// <c>--- exiting with &lt;n&gt; hits undelivered</c>. Without an endpoint hits are only logged, and nothing is said.
    /// </summary>
    public void SaveBeforeExit()
    {
        if (_client is null)
        {
            return;
        }

        Batch[] undelivered = Volatile.Read(ref _pending);
        if (Volatile.Read(ref _sending) is { } sending && Array.IndexOf(undelivered, sending) < 0)
        {
            undelivered = [.. undelivered, sending];
        }

        Snapshot left = _store.Take();
        if (left.Entries.Length > 0)
        {
            undelivered = [.. undelivered, MakeBatch(left.Entries)];
        }

        long hits = Batch.SumHits(undelivered);

        if (_spool is not null)
        {
            if (_spool.TrySaveLast(undelivered, out string error))
            {
                if (hits > 0)
                {
                    Log.Out(Invariant($"--- spool: wrote {hits} undelivered hits in {Batches(undelivered.Length)} to {_spool.Path}"));
                }
            }
            else
            {
                Log.Error($"--- spool: cannot write {_spool.Path}: {error}");
            }
        }

        Log.Error(Invariant($"--- exiting with {hits} hits undelivered"));
    }

    internal Batch MakeBatch(KeyValuePair<byte[], long>[] entries, string? id = null)
    {
        id ??= _instance + "-" + Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture);
        // One pass over the body for its length and its signature; it is encoded again, piece by piece, as it is sent.
        long length = 0;
        using IncrementalHash? mac = _options.Secret is null ? null : Signature.Start(_options.Secret);
        foreach (ReadOnlyMemory<byte> piece in BatchEncoder.EncodeBodyChunks(entries, id, _options.Secret))
        {
            length += piece.Length;
            mac?.AppendData(piece.Span);
        }

        return new Batch(id, entries) { BodyLength = length, Signature = mac is null ? null : Signature.Finish(mac) };
    }

    private async Task<bool> SendAsync(Batch batch)
    {
        long started = Stopwatch.GetTimestamp();
        // ForceYielding: the rest of the flush (taking the store, encoding, logging every key) runs on the thread pool,
        // never on the thread that completed the POST's last read.
        Volatile.Write(ref _sending, batch);
        FlushOutcome outcome = await _client!.PostAsync(
            batch.BodyLength, BatchEncoder.EncodeBodyChunks(batch.Entries, batch.Id, _options.Secret), batch.Signature, CancellationToken.None)
            .ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        Volatile.Write(ref _sending, null);
        double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        switch (outcome.Result)
        {
            case FlushResult.Delivered:
                Interlocked.Increment(ref _delivered);
                Interlocked.Add(ref _deliveredHits, batch.Hits);
                Volatile.Write(ref _lastDeliveredMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                Log.FlushResult("--- flushed ---", delivered: true, outcome.StatusCode, batch.Hits, batch.Id, ms);
                return true;
            case FlushResult.HttpError:
                Interlocked.Increment(ref _failed);
                Log.FlushResult("--- flush failed with code:" + outcome.StatusCode.ToString(CultureInfo.InvariantCulture),
                    delivered: false, outcome.StatusCode, batch.Hits, batch.Id, ms);
                return false;
            default:
                Interlocked.Increment(ref _failed);
                Log.FlushResult("--- cannot connect to endpoint : " + outcome.Reason, delivered: false, null, batch.Hits, batch.Id, ms);
                return false;
        }
    }

    private void SetPending(Batch[] batches) => Volatile.Write(ref _pending, batches);

    /// <summary>
    /// A batch leaves for good (delivered or discarded): its keys, and the store's tables they came from, are garbage.
    /// Its entries are cleared, so that the keys are free even while something still holds the batch: the flush's
    /// own locals do until its caller has moved on, and the collection below runs before that.
    /// </summary>
    private void Release(Batch batch)
    {
        long bytes = 0;
        foreach (KeyValuePair<byte[], long> entry in batch.Entries)
        {
            bytes += entry.Key.Length + ReleasedOverheadPerKey;
        }

        Array.Clear(batch.Entries);
        Interlocked.Add(ref _released, bytes);
    }

    /// <summary>
    /// Hands the garbage of dropped batches back soon, with a full collection, once it passes a few megabytes. A
    /// batch's keys live through many young collections, so they die in the oldest generation, and the store's tables
    /// and the batch's array are large objects: both are collected only by a full collection, which the runtime
    /// schedules from budgets that grow while everything survives. Left to them, the garbage of four or five batches
    /// piled up in a key flood; the README's memory bound counts one batch of garbage, and this makes it so. The
    /// collection runs in the background (the build turns concurrent collection on): a blocking one would stop every
    /// loop while it marks and compacts a heap with 100,000 live keys, a background one only for two short suspensions.
    /// </summary>
    private void CollectReleased()
    {
        if (Interlocked.Read(ref _released) >= CollectAfterReleasedBytes)
        {
            Interlocked.Exchange(ref _released, 0);
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: false);
        }
    }

    // The flushes, the shutdown's save and the spool's restore take turns: one holds the gate at a time.
    private async ValueTask<GateHeld> EnterGateAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        return new GateHeld(_gate);
    }

    private GateHeld EnterGate()
    {
        _gate.Wait();
        return new GateHeld(_gate);
    }

    /// <summary>Makes the spool file hold exactly the waiting batches (none: no file). False when the disk refused.</summary>
    private bool Checkpoint()
    {
        if (_spool is null)
        {
            return true;
        }

        if (_spool.TrySave(_pending, out string error))
        {
            return true;
        }

        Log.Error($"--- spool: cannot write {_spool.Path}: {error}");
        return false;
    }

    private static string Batches(int count) => count == 1 ? "1 batch" : count.ToString(CultureInfo.InvariantCulture) + " batches";

    private void ReportUncounted(Snapshot snapshot)
    {
        Log.Ignored(snapshot.Ignored);

        if (snapshot.Ignored.Uncapped > 0)
        {
            Log.Error(Invariant($"--- per-client table full: {snapshot.Ignored.Uncapped} hits counted without the maxhitsperclient cap"));
        }

        if (snapshot.RefusedFull == 0 && snapshot.RefusedTooLong == 0)
        {
            return;
        }

        Log.Error(string.Create(CultureInfo.InvariantCulture,
            $"--- refused {snapshot.RefusedFull + snapshot.RefusedTooLong} hits: {snapshot.RefusedFull} with new keys past maxkeys ({_store.MaxKeys}), {snapshot.RefusedTooLong} with keys longer than maxkeylength ({_options.MaxKeyLength})"));
    }

    private readonly struct GateHeld(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
