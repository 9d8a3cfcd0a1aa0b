using System.Globalization;
using PixelPing.Http;

namespace PixelPing.Net;

/// <summary>
/// A bug met while serving one connection (an exception from the request handler, or from the loop's own handling of
/// that connection's event): its owner closes the connection and counts it; this says so in the log at most once a
/// second, so that a bug every request meets can neither flood the log nor slow the loops to the speed of its writes.
/// </summary>
internal sealed class ConnectionErrors
{
    private readonly LogThrottle _throttle = new();

    /// <summary>The line to log for this error at <paramref name="nowMs"/> (<see cref="Environment.TickCount64"/>), or null.</summary>
    public string? Report(PeerAddress? peer, Exception error, long nowMs)
    {
        if (!_throttle.Take(nowMs, out long count))
        {
            return null;
        }

        string where = peer is { } address ? $"connection error from {address}" : "event loop error";
        return string.Create(CultureInfo.InvariantCulture, $"--- {where}: {error.GetType().Name}: {error.Message}{(count > 1 ? $"; {count} such errors since the last such line" : "")}");
    }
}
