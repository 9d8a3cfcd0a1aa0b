namespace PixelPing.Net;

/// <summary>
/// One kind of log line at most once a second, however often its cause repeats (a descriptor shortage retried, a bug
/// met by every request), carrying how many occurrences the line stands for.
/// </summary>
internal sealed class LogThrottle
{
    private const long PeriodMs = 1000;
    private readonly Lock _lock = new();
    private long _lastLogged = long.MinValue / 2;
    private long _unlogged;

    /// <summary>
    /// Counts one occurrence at <paramref name="nowMs"/> (<see cref="Environment.TickCount64"/>); true when it is to be
    /// logged, with <paramref name="count"/> the occurrences since the last line, this one included.
    /// </summary>
    public bool Take(long nowMs, out long count)
    {
        lock (_lock)
        {
            _unlogged++;
            count = _unlogged;
            if (nowMs - _lastLogged < PeriodMs)
            {
                return false;
            }

            _unlogged = 0;
            _lastLogged = nowMs;
            return true;
        }
    }
}
