namespace PixelPing.Common;

/// <summary>
/// The time in Unix seconds, as a field a timer refreshes every second: a hit reads it without a call into the system
/// (it may be up to a second old). <see cref="Refresh"/> reads the real clock where an exact second matters.
/// </summary>
internal static class CoarseClock
{
    private static long s_seconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    // One timer for the process, started by the first use and never stopped.
    private static readonly Timer s_timer = new(static _ => Refresh(), null, 1000, 1000);

    public static long UnixSeconds => Volatile.Read(ref s_seconds);

    /// <summary>Reads the system clock now, and makes every later <see cref="UnixSeconds"/> see at least that.</summary>
    public static long Refresh()
    {
        GC.KeepAlive(s_timer);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Volatile.Write(ref s_seconds, now);
        return now;
    }
}
