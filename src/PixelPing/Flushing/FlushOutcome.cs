namespace PixelPing.Flushing;

internal enum FlushResult : byte
{
    Delivered,
    HttpError,
    ConnectError,
    Refused,
}

/// <summary>
/// How one flush to the endpoint ended: delivered (an HTTP 2xx, or stored by a database), refused (an HTTP status, or
/// a database's reason), or not answered at all.
/// </summary>
internal readonly record struct FlushOutcome(FlushResult Result, int StatusCode, string? Reason)
{
    public static FlushOutcome Delivered(int status) => new(FlushResult.Delivered, status, null);

    /// <summary>Stored by a database (no HTTP status); <paramref name="note"/> says what the log line may add, if anything.</summary>
    public static FlushOutcome Stored(string? note = null) => new(FlushResult.Delivered, 0, note);

    public static FlushOutcome Http(int status) => new(FlushResult.HttpError, status, null);

    /// <summary>A database answered, and did not store the batch: <paramref name="reason"/> in its words.</summary>
    public static FlushOutcome Refused(string reason) => new(FlushResult.Refused, 0, reason);

    public static FlushOutcome Unreachable(string reason) => new(FlushResult.ConnectError, 0, reason);
}
