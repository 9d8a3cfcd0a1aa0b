namespace PixelPing.Flushing;

/// <summary>
/// Where the flusher sends a batch: an HTTP receiver (<see cref="HttpEndpoint"/>), PostgreSQL
/// (<see cref="Postgres.PostgresStore"/>) or Redis. Each keeps what only it needs (a body's length and signature, a
/// connection) to itself; the flusher sees only how a send ended.
/// </summary>
internal interface IEndpoint : IAsyncDisposable
{
    /// <summary>
    /// The start's and <c>--check</c>'s look at a database: connects once, authenticates, checks what a flush will
    /// need, and says so in one line. Null for an HTTP receiver, which is only reached by a flush.
    /// </summary>
    Task<ProbeResult?> ProbeAsync(CancellationToken cancellation);

    /// <summary>
    /// Sends one batch: <see cref="FlushResult.Delivered"/> when it is stored (or was stored before, under the same
    /// id); <see cref="FlushResult.HttpError"/> or <see cref="FlushResult.Refused"/> when the endpoint answered and
    /// refused; <see cref="FlushResult.ConnectError"/> when it could not be reached or did not answer.
    /// <paramref name="completing"/> is called just before the write after which the endpoint may have stored the
    /// whole batch (the body's last bytes, a COMMIT, a script run), whether or not an answer comes.
    /// </summary>
    Task<FlushOutcome> SendAsync(Batch batch, Action? completing, CancellationToken cancellation);
}
