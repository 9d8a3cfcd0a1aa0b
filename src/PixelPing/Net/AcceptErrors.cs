using System.Globalization;
using System.Net.Sockets;

namespace PixelPing.Net;

/// <summary>
/// What a failed accept is worth, tiered: a client that reset or gave up before it was accepted is its own business
/// and not logged; a shortage (no descriptor or no memory left) and anything unexpected are logged at most once a
/// second, with the number of failures since the last line, and a shortage pauses accepting briefly, because the
/// listening socket stays ready and retrying at once would spin.
/// </summary>
internal sealed class AcceptErrors
{
    private readonly LogThrottle _throttle = new();

    /// <summary>How long to wait before the next accept after <paramref name="error"/> (zero: at once).</summary>
    public static TimeSpan Backoff(SocketError error) =>
        IsShortage(error) ? TimeSpan.FromMilliseconds(100) : TimeSpan.Zero;

    /// <summary>The line to log for this failure at <paramref name="nowMs"/> (<see cref="Environment.TickCount64"/>), or null.</summary>
    public string? Report(SocketError error, string message, long nowMs)
    {
        if (error is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.OperationAborted)
        {
            return null;
        }

        if (!_throttle.Take(nowMs, out long count))
        {
            return null;
        }

        string what = IsShortage(error)
            ? "out of descriptors or memory, new connections wait; raise the open-file limit or lower \"maxconnections\""
            : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"--- accept failed: {message}{(what.Length > 0 ? " (" + what + ")" : "")}{(count > 1 ? $"; {count} failures since the last such line" : "")}");
    }

    private static bool IsShortage(SocketError error) =>
        error is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable;
}
