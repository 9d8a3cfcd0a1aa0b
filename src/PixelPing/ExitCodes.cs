namespace PixelPing;

/// <summary>
/// How the server's process ends: 0 when it stopped and every hit it answered was delivered or written to the spool
/// file, 1 when it could not start, 2 for a usage error, and <see cref="HitsLost"/> when it stopped with hits neither
/// delivered nor saved. The graceful stop and a second stop signal follow the same rule.
/// </summary>
internal static class ExitCodes
{
    public const int HitsLost = 3;

    public static int AfterStop(long lost) => lost == 0 ? 0 : HitsLost;
}
