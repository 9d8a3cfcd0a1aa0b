namespace PixelPing.Http;

/// <summary>Size limits for one request head; each one stops a client from making the server buffer without bound.</summary>
internal readonly struct HttpLimits
{
    public HttpLimits(int maxRequestLineBytes, int maxHeaderBytes, int maxHeaderCount, int maxBodyBytes)
    {
        // Checked here, once, from configuration: the parser itself never throws. (A default(HttpLimits) of all
        // zeros still parses safely; it just rejects every request with 414.)
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRequestLineBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxHeaderBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(maxHeaderCount);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBodyBytes);
        MaxRequestLineBytes = maxRequestLineBytes;
        MaxHeaderBytes = maxHeaderBytes;
        MaxHeaderCount = maxHeaderCount;
        MaxBodyBytes = maxBodyBytes;
    }

    /// <summary>Longest request line, CRLF included (and any empty lines before it). Over it: 414.</summary>
    public int MaxRequestLineBytes { get; }

    /// <summary>All header lines plus the final empty line, not the request line. Over it: 431.</summary>
    public int MaxHeaderBytes { get; }

    /// <summary>Most header lines. Over it: 431.</summary>
    public int MaxHeaderCount { get; }

    /// <summary>Largest Content-Length accepted (the body is read and dropped). Over it: 413.</summary>
    public int MaxBodyBytes { get; }

    /// <summary>Header values to record in <see cref="ParsedRequest"/> (the hit filters' needs); none by default.</summary>
    public HeaderFields Capture { get; init; }

    // Kestrel's defaults are 8 KiB for the request line and 32 KiB for headers; a pixel request needs far less.
    public static HttpLimits Default { get; } = new(8192, 16384, 100, 65536);
}
