namespace PixelPing.Http;

/// <summary>
/// One complete request as the transport hands it to an <see cref="IRequestHandler"/>: the parser's result, the head
/// bytes its offsets point into (valid only during the call), the peer's address, and whether the answer may keep
/// the connection open.
/// </summary>
internal readonly ref struct HttpRequest
{
    // A reference to the caller's parse result: handlers and filters read it in place (it is a hundred bytes).
    private readonly ref readonly ParsedRequest _parsed;

    public HttpRequest(ReadOnlySpan<byte> head, ref readonly ParsedRequest parsed, PeerAddress peer, bool keepAlive)
    {
        Head = head;
        _parsed = ref parsed;
        Peer = peer;
        KeepAlive = keepAlive;
    }

    /// <summary>The bytes the offsets in <see cref="Parsed"/> are relative to (the request line comes first).</summary>
    public ReadOnlySpan<byte> Head { get; }

    public ref readonly ParsedRequest Parsed => ref _parsed;

    /// <summary>The address of the TCP peer (a proxy's, when one is in front).</summary>
    public PeerAddress Peer { get; }

    /// <summary>The request asked to keep the connection and the server is not shutting down.</summary>
    public bool KeepAlive { get; }
}
