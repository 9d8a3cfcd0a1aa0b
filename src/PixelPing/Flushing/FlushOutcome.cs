namespace PixelPing.Flushing;

internal enum FlushResult : byte
{
    Delivered,
    HttpError,
    ConnectError,
}

/// <summary>How one POST to the endpoint ended: delivered (2xx), refused with a status, or not answered at all.</summary>
internal readonly record struct FlushOutcome(FlushResult Result, int StatusCode, string? Reason)
{
    public static FlushOutcome Delivered(int status) => new(FlushResult.Delivered, status, null);

    public static FlushOutcome Http(int status) => new(FlushResult.HttpError, status, null);

    public static FlushOutcome Unreachable(string reason) => new(FlushResult.ConnectError, 0, reason);
}
