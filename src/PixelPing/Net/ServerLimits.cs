using PixelPing.Http;

namespace PixelPing.Net;

/// <summary>What one connection may use: parser limits, the two timeouts (in milliseconds) and the connection cap (in milliseconds).</summary>
internal sealed record ServerLimits(HttpLimits Http, long HeaderTimeoutMs, long IdleTimeoutMs, int MaxConnections)
{
    /// <summary>The largest a request head can be before the parser refuses it; the receive buffer never grows past it.</summary>
    public int MaxHeadBytes => Http.MaxRequestLineBytes + Http.MaxHeaderBytes;
}
