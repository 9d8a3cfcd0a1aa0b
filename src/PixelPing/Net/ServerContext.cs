using PixelPing.Counting;
using PixelPing.Tls;

namespace PixelPing.Net;

/// <summary>
/// What every connection shares: where hits go, the limits, the open-connection table, the counters, and the
/// certificate when the port speaks HTTPS.
/// </summary>
internal sealed class ServerContext(HitStore store, ServerLimits limits, ServerCertificate? tls = null)
{
    public HitStore Store { get; } = store;
    public ServerLimits Limits { get; } = limits;
    public ConnectionTracker Tracker { get; } = new(limits.MaxConnections);
    public ServerStats Stats { get; } = new();

    /// <summary>Null for plain HTTP: then a connection pays nothing for TLS beyond this one null check.</summary>
    public ServerCertificate? Tls { get; } = tls;
}
