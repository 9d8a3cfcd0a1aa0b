using PixelPing.Net;

namespace PixelPing.Http;

/// <summary>
/// One complete request as the transport hands it to an <see cref="IRequestHandler"/>: the parser's result, the head
/// bytes its offsets point into (valid only during the call), the peer's address, and whether the answer may keep
/// the connection open.
/// </summary>
internal readonly ref struct HttpRequest(ReadOnlySpan<byte> head, in ParsedRequest parsed, PeerAddress peer, bool keepAlive)
{
    /// <summary>The bytes the offsets in <see cref="Parsed"/> are relative to (the request line comes first).</summary>
    public ReadOnlySpan<byte> Head { get; } = head;

    public ParsedRequest Parsed { get; } = parsed;

    /// <summary>The address of the TCP peer (a proxy's, when one is in front).</summary>
    public PeerAddress Peer { get; } = peer;

    /// <summary>The request asked to keep the connection and the server is not shutting down.</summary>
    public bool KeepAlive { get; } = keepAlive;
}
