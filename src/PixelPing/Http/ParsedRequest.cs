namespace PixelPing.Http;

internal enum ParseStatus : byte
{
    Incomplete,
    Complete,
    Error,
}

internal enum RequestMethod : byte
{
    Get,
    Head,
    Other,
}

/// <summary>
/// The outcome of parsing one request head. Offsets are relative to the span given to <see cref="RequestParser.Parse"/>
/// (the start of the request),
/// so the caller slices its own buffer and nothing is copied.
/// </summary>
internal readonly struct ParsedRequest
{
    private ParsedRequest(ParseStatus status, RequestRejection rejection)
    {
        Status = status;
        Rejection = rejection;
        Method = RequestMethod.Other;
    }

    private readonly CapturedValues _captured;

    public ParseStatus Status { get; }

    /// <summary>When <see cref="Status"/> is Error: why; else <see cref="RequestRejection.None"/>. Every error closes the connection.</summary>
    public RequestRejection Rejection { get; }

    /// <summary>When Complete: bytes of the request line, the headers and the final CRLF; the body is not included.</summary>
    public int HeadLength { get; }

    public RequestMethod Method { get; }

    /// <summary>The path is exactly <c>/pixel.gif</c>.</summary>
    public bool IsPixel { get; }

    /// <summary>Offset of the path (after the authority of an absolute-form target); it ends at '?', '#' or the target's end.</summary>
    public int PathStart { get; }

    /// <summary>Length of the path; 0 for an absolute-form target with no path (which means "/").</summary>
    public int PathLength { get; }

    /// <summary>Offset of the first byte after '?', or 0 when the target has no '?'.</summary>
    public int QueryStart { get; }

    /// <summary>Length of the query up to '#' or the end of the target; 0 when there is none or it is empty.</summary>
    public int QueryLength { get; }

    /// <summary>The final decision: the version's default adjusted by every Connection header.</summary>
    public bool KeepAlive { get; }

    public bool IsHttp10 { get; }

    /// <summary>The body length to read and drop; 0 when there is no Content-Length.</summary>
    public long ContentLength { get; }

    public static ParsedRequest Incomplete => new(ParseStatus.Incomplete, RequestRejection.None);

    public static ParsedRequest Error(RequestRejection rejection) => new(ParseStatus.Error, rejection);

    /// <summary>Whether a field asked for in <see cref="HttpLimits.Capture"/> was present (possibly empty).</summary>
    public bool Has(HeaderFields field) => !_captured[Index(field)].Equals(default(Range));

    /// <summary>The value of a captured field in the parsed input; empty when absent or not asked for.</summary>
    public ReadOnlySpan<byte> Value(ReadOnlySpan<byte> input, HeaderFields field) => input[_captured[Index(field)]];

    internal static int Index(HeaderFields field) => System.Numerics.BitOperations.TrailingZeroCount((uint)field);

    /// <summary>A complete request, built in place by <see cref="RequestParser.Parse"/>.</summary>
    public ParsedRequest(
        int headLength,
        RequestMethod method,
        bool isPixel,
        int pathStart,
        int pathLength,
        int queryStart,
        int queryLength,
        bool keepAlive,
        bool isHttp10,
        long contentLength,
        in CapturedValues captured)
    {
        Status = ParseStatus.Complete;
        Rejection = RequestRejection.None;
        HeadLength = headLength;
        Method = method;
        IsPixel = isPixel;
        PathStart = pathStart;
        PathLength = pathLength;
        QueryStart = queryStart;
        QueryLength = queryLength;
        KeepAlive = keepAlive;
        IsHttp10 = isHttp10;
        ContentLength = contentLength;
        _captured = captured;
    }
}
