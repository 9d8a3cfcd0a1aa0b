using PixelPing.Flushing.Postgres;
using PixelPing.Flushing.Redis;

namespace PixelPing.Config;

/// <summary>
/// The <c>endpoint</c> key's value: the URL as written, what kind of endpoint it names, and (for PostgreSQL) what
/// <see cref="PostgresUri"/> read from it. Not a record: its text may hold a password, and a record's generated
/// <c>ToString</c> would print it; <see cref="ToString"/> gives the masked form.
/// </summary>
internal sealed class EndpointAddress
{
    public required EndpointKind Kind { get; init; }

    /// <summary>The URL as written, password included: for connecting, never for a message (use <see cref="Shown"/>).</summary>
    public required string Text { get; init; }

    /// <summary>The parsed URL of an HTTP or Redis endpoint; null for PostgreSQL, whose URIs <see cref="Uri"/> cannot all read (a Unix socket as the host).</summary>
    public Uri? Uri { get; init; }

    /// <summary>A PostgreSQL endpoint's connection parameters; null for the other kinds.</summary>
    public PostgresEndpoint? Postgres { get; init; }

    /// <summary>A Redis endpoint's connection parameters; null for the other kinds.</summary>
    public RedisEndpoint? Redis { get; init; }

    /// <summary>A database, which Pixel Ping writes to itself (no receiver, nothing signed).</summary>
    public bool IsDatabase => Kind != EndpointKind.Http;

    /// <summary>TLS with a certificate chain that <c>endpointca</c> may anchor: <c>https://</c> and <c>rediss://</c>.</summary>
    public bool UsesEndpointCa => Uri?.Scheme is "https" or "rediss";

    /// <summary>The URL as messages show it: no password, escaped for a log line.</summary>
    public string Shown => EndpointText.Show(Text);

    public override string ToString() => Shown;
}
