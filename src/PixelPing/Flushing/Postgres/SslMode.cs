namespace PixelPing.Flushing.Postgres;

/// <summary>libpq's <c>sslmode</c>: how much TLS a connection needs, and how much of the server's certificate is checked.</summary>
internal enum SslMode : byte
{
    /// <summary>Plain TCP only.</summary>
    Disable,

    /// <summary>TLS when the server offers it, plain otherwise; the certificate is not checked (libpq's default).</summary>
    Prefer,

    /// <summary>TLS or no connection; the certificate is not checked.</summary>
    Require,

    /// <summary>TLS, and the certificate chains to a trusted root; its name is not checked.</summary>
    VerifyCa,

    /// <summary>TLS, a trusted chain, and a certificate for the host name the URI gives.</summary>
    VerifyFull,
}
