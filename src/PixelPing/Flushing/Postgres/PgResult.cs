namespace PixelPing.Flushing.Postgres;

/// <summary>
/// The outcome of a connect or of one statement: its command tag (<c>INSERT 0 1</c>) and rows (text format), the
/// server's error, or the reason the client stopped. <see cref="Line"/> is the one line that says why it failed.
/// </summary>
internal sealed record PgResult(PgStatus Status, string Tag = "", IReadOnlyList<string?[]>? Rows = null, PgError? Error = null, string? Reason = null)
{
    public static PgResult Lost(string reason) => new(PgStatus.Lost, Reason: reason);

    public static PgResult Refused(string reason) => new(PgStatus.Refused, Reason: reason);

    public static PgResult Failed(PgError error) => new(PgStatus.ServerError, Error: error);

    public bool IsOk => Status == PgStatus.Ok;

    public string Line => Error?.Line ?? Reason ?? "";

    /// <summary>The first column of the first row; null when there is none or it is NULL.</summary>
    public string? Scalar => Rows is [var first, ..] && first.Length > 0 ? first[0] : null;
}
