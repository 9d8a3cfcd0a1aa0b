using PixelPing.Http;
using PixelPing.Tls;

namespace PixelPing.Net;

/// <summary>
/// What every connection of one listener shares: the handler that gives requests their meaning, the limits, the
/// open-connection table (its size is the listener's connection cap), the counters, the error log's throttle, and the certificate when the
/// port speaks HTTPS.
/// </summary>
internal sealed class ListenerContext(IRequestHandler handler, ListenerLimits limits, ServerCertificate? tls = null)
{
    public IRequestHandler Handler { get; } = handler;
    public ListenerLimits Limits { get; } = limits;
    public ConnectionTracker Tracker { get; } = new(limits.MaxConnections);
    public ServerStats Stats { get; } = new();
    public ConnectionErrors Errors { get; } = new();

    /// <summary>Null for plain HTTP: then a connection pays nothing for TLS beyond this one null check.</summary>
    public ServerCertificate? Tls { get; } = tls;
}
