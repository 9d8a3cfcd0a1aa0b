namespace PixelPing.Config;

/// <summary>Where the counts go: an HTTP receiver, or a database Pixel Ping writes to itself.</summary>
internal enum EndpointKind : byte
{
    /// <summary><c>http://</c> or <c>https://</c>: a form POSTed to a receiver.</summary>
    Http,

    /// <summary><c>postgresql://</c> or <c>postgres://</c>.</summary>
    Postgres,

    /// <summary><c>redis://</c> or <c>rediss://</c> (TLS).</summary>
    Redis,
}
