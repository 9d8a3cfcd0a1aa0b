using System.Globalization;
using PixelPing.Counting;

namespace PixelPing.Flushing;

/// <summary>
/// Sends the counts to the endpoint every interval, on SIGUSR2, when the key cap is reached, and at shutdown.
/// Flushes never overlap: a trigger that arrives during a flush causes one more flush after it. A batch the endpoint
/// did not accept is kept and sent again, unchanged and before any newer hits, unless <c>discard</c> is set.
/// </summary>
internal sealed class Flusher
{
    private readonly HitStore _store;
    private readonly EndpointClient? _client;
    private readonly FlushOptions _options;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly SemaphoreSlim _gate = new(1, 1);
    // Unique per process start, so batch ids never repeat across instances or restarts: the start time in
    // milliseconds and 31 random bits. Not Guid or RandomNumberGenerator: the first needs /dev/urandom, which an empty
    // root may lack, and the second initialises OpenSSL at startup for nothing (a megabyte of RSS).
    private readonly string _instance = string.Create(CultureInfo.InvariantCulture,
        $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds():x}{(uint)Random.Shared.Next():x8}");
    private int _wakeRequested;
    private long _sequence;
    private Batch? _kept;

    public Flusher(HitStore store, EndpointClient? client, FlushOptions options)
    {
        _store = store;
        _client = client;
        _options = options;
    }

    /// <summary>The batch that failed and waits to be sent again, if any.</summary>
    public Batch? Kept => Volatile.Read(ref _kept);

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
            await FlushAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One flush: the kept batch first, then the hits counted since. True when nothing is left undelivered.</summary>
    public async Task<bool> FlushAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_client is null)
            {
                // No endpoint: the counts stay, and each flush logs them cumulatively, as the original does.
                Snapshot held = _store.Peek();
                ReportRefused(held);
                if (_options.LogKeys)
                {
                    Log.Keys(held.Entries);
                }

                return true;
            }

            if (_kept is { } kept)
            {
                if (!await SendAsync(kept).ConfigureAwait(false))
                {
                    return false;
                }

                Volatile.Write(ref _kept, null);
            }

            Snapshot snapshot = _store.Take();
            ReportRefused(snapshot);
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
            if (await SendAsync(batch).ConfigureAwait(false))
            {
                return true;
            }

            if (!_options.Discard)
            {
                Volatile.Write(ref _kept, batch);
            }

            return false;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Restores a batch (from the spool file) so it is sent first, with its original id.</summary>
    public void Restore(Batch batch) => Volatile.Write(ref _kept, batch);

    internal Batch MakeBatch(KeyValuePair<byte[], long>[] entries, string? id = null)
    {
        id ??= _instance + "-" + Interlocked.Increment(ref _sequence).ToString(CultureInfo.InvariantCulture);
        return new Batch(id, entries, BatchEncoder.EncodeBody(entries, id, _options.Secret));
    }

    private async Task<bool> SendAsync(Batch batch)
    {
        string? signature = _options.Secret is null ? null : Signature.Sign(batch.Body, _options.Secret);
        // ForceYielding: the POST's last read completes on a socket event thread (inline completions); the rest of the
        // flush (taking the store, encoding, logging every key) must run on the thread pool, never there.
        FlushOutcome outcome = await _client!.PostAsync(batch.Body, signature, CancellationToken.None)
            .ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        switch (outcome.Result)
        {
            case FlushResult.Delivered:
                Log.Out("--- flushed ---");
                return true;
            case FlushResult.HttpError:
                Log.Error("--- flush failed with code:" + outcome.StatusCode.ToString(CultureInfo.InvariantCulture));
                return false;
            default:
                Log.Error("--- cannot connect to endpoint : " + outcome.Reason);
                return false;
        }
    }

    private void ReportRefused(Snapshot snapshot)
    {
        if (snapshot.RefusedFull == 0 && snapshot.RefusedTooLong == 0)
        {
            return;
        }

        Log.Error(string.Create(CultureInfo.InvariantCulture,
            $"--- refused {snapshot.RefusedFull + snapshot.RefusedTooLong} hits: {snapshot.RefusedFull} with new keys past maxkeys ({_store.MaxKeys}), {snapshot.RefusedTooLong} with keys longer than maxkeylength ({_options.MaxKeyLength})"));
    }
}
