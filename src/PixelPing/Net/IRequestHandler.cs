using PixelPing.Http;

namespace PixelPing.Net;

/// <summary>
/// What a listener does with each complete request; the transport (<c>Net/</c>) owns sockets, buffers, timeouts and
/// framing, and calls this once per parsed request, in order, on the thread that read it. The pixel port runs
/// <see cref="PixelApplication"/>; another listener on the same transport can run another handler.
/// </summary>
internal interface IRequestHandler
{
    /// <summary>
    /// The whole response for <paramref name="request"/>, status line to body. It must honour
    /// <see cref="HttpRequest.KeepAlive"/> in its <c>Connection</c> header: the transport closes after the answer when
    /// keep-alive is off. Called on the transport's hot path: no blocking, and no allocation for the common answers.
    /// </summary>
    /// <param name="request">The parsed head, its bytes and the client's address.</param>
    /// <param name="stats">The calling thread's own counters (see <see cref="StatsShard"/>).</param>
    byte[] Handle(in HttpRequest request, StatsShard stats);
}
