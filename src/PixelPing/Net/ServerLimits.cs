using PixelPing.Http;

namespace PixelPing.Net;

/// <summary>What one connection may use: parser limits, the two timeouts (in milliseconds) and the connection cap (in milliseconds).</summary>
internal sealed record ServerLimits(HttpLimits Http, long HeaderTimeoutMs, long IdleTimeoutMs, int MaxConnections)
{
    /// <summary>
    /// When every place is taken, a new connection closes the one that has waited longest for a whole request head
    /// instead of being refused. For a port with few places (the status port): clients that open connections and
    /// never finish a request, reconnecting as soon as they are cut off, would otherwise keep probes out for good.
    /// </summary>
    public bool EvictWhenFull { get; init; }

    /// <summary>The largest a request head can be before the parser refuses it; the receive buffer never grows past it.</summary>
    public int MaxHeadBytes => Http.MaxRequestLineBytes + Http.MaxHeaderBytes;
}
