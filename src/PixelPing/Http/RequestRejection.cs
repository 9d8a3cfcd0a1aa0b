namespace PixelPing.Http;

/// <summary>
/// Why a request head was refused, in the manner of Kestrel's <c>RequestRejectionReason</c>: the parser says what is
/// wrong, and <see cref="RequestRejections.Status"/> maps it to the status line sent. Every rejection closes the
/// connection.
/// </summary>
internal enum RequestRejection : byte
{
    None,

    /// <summary>The request line is not <c>method SP request-target SP HTTP-version CRLF</c> (RFC 9112 §3).</summary>
    InvalidRequestLine,

    /// <summary>A field line is malformed, folded, or holds a control byte (RFC 9112 §5).</summary>
    InvalidHeaderLine,

    /// <summary>No Host in an HTTP/1.1 request, more than one, or an invalid one (RFC 9112 §3.2).</summary>
    InvalidHost,

    /// <summary>Content-Length not 1*DIGIT, repeated, or beside Transfer-Encoding (RFC 9112 §6.3).</summary>
    InvalidFraming,

    /// <summary>Content-Length over the body limit.</summary>
    BodyTooLarge,

    /// <summary>The request line (with any empty lines before it) over its limit.</summary>
    RequestLineTooLong,

    /// <summary>The header section over its byte or line limit.</summary>
    HeadersTooLarge,

    /// <summary>An HTTP/1.1 Transfer-Encoding: a coding this server does not decode (RFC 9112 §6.1).</summary>
    TransferCodingNotSupported,

    /// <summary>A well-formed version other than HTTP/1.0 and HTTP/1.1.</summary>
    VersionNotSupported,
}

internal static class RequestRejections
{
    /// <summary>The status code each rejection is answered with.</summary>
    public static int Status(this RequestRejection rejection) => rejection switch
    {
        RequestRejection.None => 0,
        RequestRejection.BodyTooLarge => 413,
        RequestRejection.RequestLineTooLong => 414,
        RequestRejection.HeadersTooLarge => 431,
        RequestRejection.TransferCodingNotSupported => 501,
        RequestRejection.VersionNotSupported => 505,
        _ => 400,
    };
}
