namespace PixelPing.Flushing.Postgres;

/// <summary>How a connect or a statement ended.</summary>
internal enum PgStatus : byte
{
    /// <summary>Done.</summary>
    Ok,

    /// <summary>The server answered with an ErrorResponse (<see cref="PgResult.Error"/>).</summary>
    ServerError,

    /// <summary>The client would not go on: a certificate that failed its check, an authentication it will not do.</summary>
    Refused,

    /// <summary>No (more) conversation: unreachable, closed, timed out, or a protocol violation. The connection is gone.</summary>
    Lost,
}
