namespace PixelPing.Flushing.Postgres;

/// <summary>libpq's <c>channel_binding</c>: whether SCRAM binds the authentication to the TLS connection (RFC 5929 tls-server-end-point).</summary>
internal enum ChannelBindingMode : byte
{
    /// <summary>Never: plain SCRAM-SHA-256 even over TLS.</summary>
    Disable,

    /// <summary>SCRAM-SHA-256-PLUS when TLS is on and the server offers it (libpq's default).</summary>
    Prefer,

    /// <summary>SCRAM-SHA-256-PLUS or no connection: any other method, or no TLS, is refused.</summary>
    Require,
}
