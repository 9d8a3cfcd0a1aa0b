using PixelPing.Counting;

namespace PixelPing.Net;

/// <summary>What every connection shares: where hits go, the limits, the open-connection table, the counters.</summary>
internal sealed class ServerContext(HitStore store, ServerLimits limits)
{
    public HitStore Store { get; } = store;
    public ServerLimits Limits { get; } = limits;
    public ConnectionTracker Tracker { get; } = new(limits.MaxConnections);
    public ServerStats Stats { get; } = new();
}
