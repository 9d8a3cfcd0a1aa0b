namespace PixelPing.Net;

/// <summary>
/// A listener's counters, for the shutdown summary, metrics and tests: one <see cref="StatsShard"/> per writer,
/// summed when read.
/// </summary>
internal sealed class ServerStats
{
    private readonly Lock _lock = new();
    private StatsShard[] _shards = [];

    /// <summary>A new shard for one writer (taken once, when an event loop starts).</summary>
    public StatsShard NewShard()
    {
        var shard = new StatsShard();
        lock (_lock)
        {
            _shards = [.. _shards, shard];
        }

        return shard;
    }

    /// <summary>The sums over every shard; each counter is read atomically, the set is not one instant.</summary>
    public StatsSnapshot Read()
    {
        StatsShard[] shards = Volatile.Read(ref _shards);
        var responses = new long[StatsShard.Statuses.Length + 1];
        long requests = 0, pixels = 0, accepted = 0, refused = 0, closed = 0, errors = 0, handshakes = 0, failed = 0;
        foreach (StatsShard s in shards)
        {
            requests += Interlocked.Read(ref s.Requests);
            pixels += Interlocked.Read(ref s.Pixels);
            accepted += Interlocked.Read(ref s.Accepted);
            refused += Interlocked.Read(ref s.Refused);
            closed += Interlocked.Read(ref s.Closed);
            errors += Interlocked.Read(ref s.Errors);
            handshakes += Interlocked.Read(ref s.Handshakes);
            failed += Interlocked.Read(ref s.FailedHandshakes);
            for (int i = 0; i < responses.Length; i++)
            {
                responses[i] += Interlocked.Read(ref s.Responses[i]);
            }
        }

        return new StatsSnapshot(requests, pixels, accepted, refused, closed, errors, handshakes, failed, responses);
    }
}
