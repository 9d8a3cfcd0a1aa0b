using System.Diagnostics;
using System.Globalization;
using PixelPing.Counting;
using static System.FormattableString;

namespace PixelPing.Flushing;

/// <summary>
/// Sends the counts to the endpoint (an HTTP receiver or a database, <see cref="IEndpoint"/>) every interval, on
/// SIGUSR2, when the key cap is reached, and at shutdown; at every UTC midnight the store is taken too, so that each
/// batch holds the hits of one UTC day. Flushes never overlap: a trigger that arrives during a flush causes one more
/// flush after it. A batch the endpoint did not accept is kept and sent again, unchanged and before any newer hits,
/// unless <c>discard</c> is set. With a spool file, every batch taken from the store is on disk until the endpoint
/// accepts it (see <see cref="Spool"/>).
/// </summary>
internal sealed class Flusher
{
    // What a key costs besides its bytes: the array's header, its dictionary entry and bucket, its batch entry.
    private const int ReleasedOverheadPerKey = 100;
    private const long CollectAfterReleasedBytes = 4 << 20;

    private readonly HitStore _store;
    private readonly IEndpoint? _endpoint;
    private readonly FlushOptions _options;
    // No maximum count: a request that races a timed-out wait may leave one extra release behind, which costs one
    // extra (usually empty) flush; a maximum of 1 would make that Release throw in a signal handler or in a hit.
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _gate = new(1, 1);

    // A midnight is waited for in steps of at most this, so that a wall clock that jumps (NTP, a resumed VM) is noticed.
    private static readonly TimeSpan s_longestWait = TimeSpan.FromMinutes(1);

    // One checkpoint at a time, from reading the pending batches to writing them, so that an older picture never
    // replaces a newer one on disk (a flush and a midnight's cut both write).
    private readonly Lock _checkpoint = new();
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

    // Every take of the store and every change of what is pending, in flight or finishing happens under this lock, and
    // none of it waits for the network, the disk or stdout: the exit path of a second stop signal takes it and sees
    // one consistent picture, whatever the flush is doing meanwhile.
    private readonly Lock _state = new();

    // Batches taken from the store (or loaded from the spool) that the endpoint has not accepted, oldest first. A new
    // batch is here from the instant it is taken until the endpoint accepts it. Replaced, never changed in place, so
    // that readers without the lock (the metrics) see a consistent array.
    private Batch[] _pending = [];

    // The pending batch whose POST is in progress, and whether its request has gone out whole: from then on the
    // endpoint may have stored it, though no answer will be read if the process exits now.
    private Batch? _sending;
    private bool _requestComplete;

    // Set by whichever comes first, the graceful stop's save or a second signal's: from then on nothing is sent,
    // taken or dropped, and the other waits for _finished, which holds the hits neither delivered nor saved.
    private bool _finishing;

    // From the graceful stop on, a batch that discard drops is lost at exit, and counts in the exit code.
    private bool _stopping;
    private long _discardedAtStop;
    private readonly TaskCompletionSource<long> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _saidCapped;

    // The last refusal said (a database's, until it changes its answer); null after any other outcome.
    private string? _saidRefusal;

    // Bytes of keys (and their share of the store's tables) in batches dropped since the last collection.
    private long _released;

    public Flusher(HitStore store, IEndpoint? endpoint, FlushOptions options, Spool? spool = null)
    {
        _store = store;
        _endpoint = endpoint;
        _options = options;
        _spool = spool;
    }

    /// <summary>
    /// A test's hold on a flush at one of the instants a second stop signal must survive, which nothing outside the
    /// process can reach (the exit path runs on another thread meanwhile); null in production.
    /// </summary>
    internal Func<FlushStep, Task>? Pause { get; init; }

    /// <summary>The oldest batch the endpoint has not accepted (one that failed, came from the spool or is being sent), if any.</summary>
    public Batch? Kept => Volatile.Read(ref _pending) is [Batch first, ..] ? first : null;

    /// <summary>How many batches the endpoint has not accepted yet.</summary>
    public int PendingCount => Volatile.Read(ref _pending).Length;

    /// <summary>POSTs the endpoint accepted since the start.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Flushes that failed (an error status, no answer in time, no connection, anything thrown) since the start.</summary>
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

    /// <summary>Flushes every interval, on request and at every UTC midnight until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        // The midnights are kept apart from the flushes, so that a flush waiting on the endpoint never delays a day's end.
        Task midnights = _endpoint is null ? Task.CompletedTask : Background.Run("midnight take", () => CutAtMidnightsAsync(stop));
        try
        {
            await FlushUntilAsync(stop).ConfigureAwait(false);
        }
        finally
        {
            await midnights.ConfigureAwait(false);
        }
    }

    private async Task FlushUntilAsync(CancellationToken stop)
    {
        if (_endpoint is not null)
        {
            // A database is reached once at the start, so that a wrong password shows now, not an interval later.
            try
            {
                (await ProbeResult.LookAsync(_endpoint, stop).ConfigureAwait(false))?.Say();
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

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
                // One broken flush must not end the loop: its batch stays pending and the next interval tries again.
                FlushThrew(e);
            }
        }
    }

    /// <summary>One flush: the waiting batches first, oldest first, then the hits counted since. True when nothing is left undelivered.</summary>
    public async Task<bool> FlushAsync()
    {
        using (await EnterGateAsync().ConfigureAwait(false))
        {
            return await FlushHeldAsync().ConfigureAwait(false);
        }
    }

    private async Task<bool> FlushHeldAsync()
    {
        if (_endpoint is null)
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

        // Older batches first, in order; while one fails, newer hits stay in the store (where maxkeys bounds them)
        // instead of piling up as more batches, but for one per UTC midnight (CutDay), which may arrive meanwhile.
        Snapshot snapshot;
        Batch? taken = null;
        while (true)
        {
            Batch[] pending;
            lock (_state)
            {
                if (_finishing)
                {
                    return false;
                }

                pending = _pending;
            }

            int done = 0;
            bool changed = false;
            while (done < pending.Length)
            {
                Batch batch = pending[done];
                Sent sent = await SendAsync(batch).ConfigureAwait(false);
                if (sent == Sent.Stopped)
                {
                    return false;
                }

                if (sent == Sent.Failed)
                {
                    if (!_options.Discard)
                    {
                        break;
                    }

                    // discard: a batch that failed is dropped, whether it failed first now or came from the spool.
                    if (!Drop(batch))
                    {
                        return false;
                    }

                    Log.Error(Invariant($"--- discarded batch {batch.Id} ({batch.Hits} hits)"));
                }

                Release(batch);
                changed = true;
                done++;
            }

            if (changed)
            {
                Checkpoint();
            }

            if (done < pending.Length)
            {
                return false;
            }

            // The new batch is pending from the instant it leaves the store: whatever happens to the flush from here
            // on (a second signal, an exception), the hits are in exactly one place.
            lock (_state)
            {
                if (_finishing)
                {
                    return false;
                }

                if (_pending.Length > 0)
                {
                    // A midnight's batch came while the older ones were sent: it goes before anything newer.
                    continue;
                }

                snapshot = _store.Take();
                if (snapshot.Entries.Length > 0)
                {
                    taken = NewBatch(snapshot);
                    Volatile.Write(ref _pending, [taken]);
                }
            }

            break;
        }

        ReportUncounted(snapshot);
        await StepAsync(FlushStep.LoggingKeys).ConfigureAwait(false);
        if (_options.LogKeys)
        {
            Log.Keys(snapshot.Entries);
        }

        if (taken is null)
        {
            // Nothing to send: no request (the original POSTed json={} every interval).
            return true;
        }

        await StepAsync(FlushStep.Encoding).ConfigureAwait(false);
        Batch encoded = taken;
        // On disk before the POST, so that a crash during the flush loses nothing already taken from memory; a crash
        // after the endpoint stored it only means a resend with the same id, which it ignores.
        Checkpoint();
        switch (await SendAsync(encoded).ConfigureAwait(false))
        {
            case Sent.Delivered:
                Checkpoint();
                Release(encoded);
                return true;
            case Sent.Failed when _options.Discard:
                if (Drop(encoded))
                {
                    // Said for each batch: a database's refusal is said only once, and the hits must not go unsaid.
                    Log.Error(Invariant($"--- discarded batch {encoded.Id} ({encoded.Hits} hits)"));
                    Checkpoint();
                    Release(encoded);
                }

                return false;
            default:
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
                Batch[] restored = batches.Where(b => b.Entries.Length > 0).ToArray();
                using (EnterGate())
                {
                    lock (_state)
                    {
                        Volatile.Write(ref _pending, [.. _pending, .. restored]);
                    }
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
    /// The graceful stop, once nothing more is counted: one more flush, then whatever is still undelivered (the waiting
    /// batches, then any hits left in the store as one more batch) is written to the spool file, or, without one,
    /// counted in a log line. Returns the hits neither delivered nor saved (0 without an endpoint: hits are only
    /// logged). Should a second stop signal have started its own save first, waits for it and returns its count.
    /// </summary>
    public async Task<long> FinishAsync()
    {
        Volatile.Write(ref _stopping, true);
        using (await EnterGateAsync().ConfigureAwait(false))
        {
            try
            {
                await FlushHeldAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Its batch is pending, and is saved or counted below like any other.
                FlushThrew(e);
            }

            if (_endpoint is null)
            {
                return 0;
            }

            if (TakeLeft() is not { } left)
            {
                return await _finished.Task.ConfigureAwait(false);
            }

            await StepAsync(FlushStep.Saving).ConfigureAwait(false);
            return Save(left, reason: null);
        }
    }

    /// <summary>
    /// A second stop signal: the process exits at once, without waiting for a flush in progress. What is undelivered
    /// — the waiting batches, the one being sent, and the hits still in the store, which counts nothing more from now
    /// on — is written to the spool file when one is configured (and no save after this one may replace it), else
    /// counted in <c>--- exiting with &lt;n&gt; hits undelivered</c>. The save comes before any line (<paramref
    /// name="reason"/> first), so that a stalled stdout or stderr cannot hold it up. Returns the hits neither delivered
    /// nor saved. Should the graceful stop have started its save first, waits for it (exiting before would lose what it
    /// saves) and returns its count. Without an endpoint hits are only logged, and nothing is said.
    /// </summary>
    public long SaveBeforeExit(string reason)
    {
        if (_endpoint is null)
        {
            Log.Error(reason);
            return 0;
        }

        if (TakeLeft() is not { } left)
        {
            long lost = _finished.Task.GetAwaiter().GetResult();
            Log.Error(reason);
            return lost;
        }

        return Save(left, reason);
    }

    /// <summary>
    /// The last take, for whichever stop gets here first: the store closes, and what is pending, in flight and left in
    /// the store is frozen as it is. Null when the other stop got here first.
    /// </summary>
    private Leftover? TakeLeft()
    {
        lock (_state)
        {
            if (_finishing)
            {
                return null;
            }

            _finishing = true;
            Snapshot left = _store.TakeLast();
            Batch[] undelivered = _pending;
            if (left.Entries.Length > 0)
            {
                // Only its id and counts: what the spool holds. A restart computes its body.
                undelivered = [.. undelivered, NewBatch(left)];
            }

            return new Leftover(left, undelivered, _requestComplete ? _sending : null, Interlocked.Read(ref _discardedAtStop));
        }
    }

    /// <summary>
    /// Writes the spool file, or counts the loss, then says which; returns the hits neither delivered nor saved. The
    /// file is written before any line, which a stalled stdout or stderr could hold up; the other stop, waiting, has
    /// the count once the lines are written too, so that neither exits in the middle of the other's last words.
    /// </summary>
    private long Save(Leftover left, string? reason)
    {
        long hits = Batch.SumHits(left.Undelivered);
        long lost = hits + left.DiscardedAtStop;
        try
        {
            string spoolError = "";
            bool saved = _spool is not null && _spool.TrySaveLast(left.Undelivered, out spoolError);

            // Each hit is in one place: in the spool file (as this save or an earlier one left it), in the POST whose
            // answer never came (the endpoint may have stored it), or nowhere.
            long kept = 0;
            long possiblyStored = 0;
            foreach (Batch batch in left.Undelivered)
            {
                if (saved || (_spool is not null && _spool.Holds(batch.Id)))
                {
                    kept += batch.Hits;
                }
                else if (ReferenceEquals(batch, left.Unanswered))
                {
                    possiblyStored += batch.Hits;
                }
            }

            lost = hits - kept + left.DiscardedAtStop;
            if (reason is not null)
            {
                Log.Error(reason);
            }

            ReportUncounted(left.Taken);
            if (saved)
            {
                if (hits > 0)
                {
                    Log.Out(Invariant($"--- spool: wrote {hits} undelivered hits in {Batches(left.Undelivered.Length)} to {_spool!.Path}"));
                }

                return lost;
            }

            if (_spool is not null)
            {
                Log.Error($"--- spool: cannot write {_spool.Path}: {spoolError}");
            }

            if (hits > 0)
            {
                Log.Error(Invariant($"--- exiting with {hits - kept - possiblyStored} hits undelivered")
                    + (possiblyStored > 0 ? Invariant($", {possiblyStored} possibly stored") : "")
                    + (kept > 0 ? Invariant($"; {kept} more stay in {_spool!.Path} from an earlier save") : ""));
            }

            return lost;
        }
        finally
        {
            _finished.TrySetResult(lost);
        }
    }

    private string NextId() => _instance + "-" + Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture);

    /// <summary>A new batch of counts taken from the store, with a new id and the times of its first and last hit.</summary>
    private Batch NewBatch(Snapshot snapshot) => new(NextId(), snapshot.Entries) { From = snapshot.From, To = snapshot.To };

    /// <summary>
    /// A UTC midnight: the store is taken now, as one more pending batch after those waiting, even while an older one
    /// waits for the endpoint or is being sent, so that no batch holds hits of two days; a flush is asked for. Without
    /// an endpoint nothing is taken (the counts are only logged).
    /// </summary>
    public void CutDay()
    {
        if (_endpoint is null)
        {
            return;
        }

        Snapshot snapshot;
        Batch? cut = null;
        lock (_state)
        {
            if (_finishing)
            {
                return;
            }

            snapshot = _store.Take();
            if (snapshot.Entries.Length > 0)
            {
                cut = NewBatch(snapshot);
                Volatile.Write(ref _pending, [.. _pending, cut]);
            }
        }

        ReportUncounted(snapshot);
        if (_options.LogKeys)
        {
            Log.Keys(snapshot.Entries);
        }

        if (cut is not null)
        {
            Checkpoint();
            Request();
        }
    }

    /// <summary>Calls <see cref="CutDay"/> at every UTC midnight until <paramref name="stop"/> is cancelled.</summary>
    private async Task CutAtMidnightsAsync(CancellationToken stop)
    {
        DateTime today = DateTime.UtcNow.Date;
        while (true)
        {
            DateTime now = DateTime.UtcNow;
            TimeSpan wait = today.AddDays(1) - now;
            if (wait > TimeSpan.Zero)
            {
                // Timers run on the monotonic clock: a wall clock set meanwhile is caught by the check below.
                await Task.Delay(wait < s_longestWait ? wait : s_longestWait, stop).ConfigureAwait(false);
                continue;
            }

            today = now.Date;
            CutDay();
        }
    }

    /// <summary>
    /// POSTs one pending batch, unless a stop has taken over. A delivered batch leaves the pending ones in the same step
    /// that ends its send; whatever else happens, even an exception, it stays pending.
    /// </summary>
    private async Task<Sent> SendAsync(Batch batch)
    {
        lock (_state)
        {
            if (_finishing)
            {
                return Sent.Stopped;
            }

            _sending = batch;
            _requestComplete = false;
        }

        long started = Stopwatch.GetTimestamp();
        bool delivered = false;
        bool stopped;
        try
        {
            // ForceYielding: the rest of the flush (taking the store, encoding, logging every key) runs on the thread
            // pool, never on the thread that completed the POST's last read.
            FlushOutcome outcome = await _endpoint!.SendAsync(batch, MarkRequestComplete, CancellationToken.None)
                .ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
            double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            string? refusal = _saidRefusal;
            _saidRefusal = null;
            switch (outcome.Result)
            {
                case FlushResult.Delivered:
                    delivered = true;
                    Interlocked.Increment(ref _delivered);
                    Interlocked.Add(ref _deliveredHits, batch.Hits);
                    Volatile.Write(ref _lastDeliveredMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                    Log.FlushResult("--- flushed ---", delivered: true, outcome.StatusCode == 0 ? null : outcome.StatusCode, batch.Hits, batch.Id, ms);
                    if (outcome.Reason is { } note)
                    {
                        Log.Out("--- endpoint: " + note);
                    }

                    break;
                case FlushResult.Refused:
                    Interlocked.Increment(ref _failed);
                    // A database's refusal stays until someone changes a right, a table or the config: said when it
                    // changes, not every interval; the batch waits meanwhile.
                    _saidRefusal = outcome.Reason;
                    if (outcome.Reason != refusal)
                    {
                        Log.FlushResult("--- flush failed: " + outcome.Reason, delivered: false, null, batch.Hits, batch.Id, ms);
                    }

                    break;
                case FlushResult.HttpError:
                    Interlocked.Increment(ref _failed);
                    Log.FlushResult("--- flush failed with code:" + outcome.StatusCode.ToString(CultureInfo.InvariantCulture),
                        delivered: false, outcome.StatusCode, batch.Hits, batch.Id, ms);
                    break;
                default:
                    Interlocked.Increment(ref _failed);
                    Log.FlushResult("--- cannot connect to endpoint : " + outcome.Reason, delivered: false, null, batch.Hits, batch.Id, ms);
                    break;
            }
        }
        catch (Exception e)
        {
            // Not an endpoint's answer but a failed flush all the same: the batch stays pending for the next one.
            Interlocked.Increment(ref _failed);
            Log.FlushResult($"--- flush failed: {e.GetType().Name}: {e.Message}", delivered: false, null, batch.Hits, batch.Id,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        finally
        {
            lock (_state)
            {
                _sending = null;
                _requestComplete = false;
                // A stop that took over meanwhile holds this batch as it was, delivered or not: it is its to save or
                // count, and the flush leaves everything as it is.
                stopped = _finishing;
                if (delivered && !stopped)
                {
                    Volatile.Write(ref _pending, Without(_pending, batch));
                }
            }
        }

        return stopped ? Sent.Stopped : delivered ? Sent.Delivered : Sent.Failed;
    }

    private void MarkRequestComplete()
    {
        lock (_state)
        {
            _requestComplete = true;
        }
    }

    /// <summary>Removes a failed batch (discard), unless a stop has taken over. True when it is gone.</summary>
    private bool Drop(Batch batch)
    {
        lock (_state)
        {
            if (_finishing)
            {
                return false;
            }

            Volatile.Write(ref _pending, Without(_pending, batch));
            if (Volatile.Read(ref _stopping))
            {
                Interlocked.Add(ref _discardedAtStop, batch.Hits);
            }

            return true;
        }
    }

    private static Batch[] Without(Batch[] batches, Batch gone) => [.. batches.Where(b => !ReferenceEquals(b, gone))];

    private Task StepAsync(FlushStep step) => Pause?.Invoke(step) ?? Task.CompletedTask;

    private void FlushThrew(Exception e)
    {
        Interlocked.Increment(ref _failed);
        Log.Error($"--- flush failed: {e.GetType().Name}: {e.Message}");
    }

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
    /// schedules from budgets that grow while everything survives, so several batches' garbage could pile up. The
    /// invariant: at most one dropped batch's garbage is alive at a time, which is what the memory bound counts. The
    /// collection runs in the background (the build turns concurrent collection on): a blocking one would stop every
    /// loop while it marks a heap of live keys; a background one stops them only for two short suspensions.
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

    /// <summary>
    /// Makes the spool file hold exactly the waiting batches (none: no file). False when the disk refused. Once a stop
    /// has taken over, its own save is the last word and this one is not made.
    /// </summary>
    private bool Checkpoint()
    {
        if (_spool is null)
        {
            return true;
        }

        string error;
        lock (_checkpoint)
        {
            Batch[] batches;
            lock (_state)
            {
                if (_finishing)
                {
                    return true;
                }

                batches = _pending;
            }

            if (_spool.TrySave(batches, out error))
            {
                return true;
            }
        }

        lock (_state)
        {
            if (_finishing)
            {
                // The stop's save came first and closed the file to every later one: nothing to say.
                return true;
            }
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

    private enum Sent : byte
    {
        Delivered,
        Failed,

        /// <summary>A stop took over before or during the send; the flush ends without touching anything.</summary>
        Stopped,
    }

    /// <summary>What the last take froze: the batches not delivered (oldest first), the one whose answer never came.</summary>
    private sealed record Leftover(Snapshot Taken, Batch[] Undelivered, Batch? Unanswered, long DiscardedAtStop);
}
