namespace PixelPing.Flushing.Postgres;

/// <summary>
/// What <see cref="PostgresUri.Parse"/> made of a URI: the endpoint when there is no error, and one line per error and
/// per warning (none of them holds the password).
/// </summary>
internal sealed class PostgresUriResult
{
    public PostgresEndpoint? Endpoint { get; init; }

    public IReadOnlyList<string> Errors { get; init; } = [];

    public IReadOnlyList<string> Warnings { get; init; } = [];
}
