using System.Runtime.CompilerServices;
using PixelPing.Counting;
using PixelPing.Filtering;
using PixelPing.Net;

namespace PixelPing.Http;

/// <summary>
/// The pixel port's meaning of a request: <c>GET</c> or <c>HEAD /pixel.gif</c> answers the GIF and counts the
/// query's <c>key</c> (unless a filter ignores the hit: it gets the same answer); any other path is a 404 and any other
/// method on the pixel a 405.
/// </summary>
internal sealed class PixelApplication(HitStore store, int maxKeyLength, HitFilter? filter = null) : IRequestHandler
{
    private const int StackKeyLimit = 2048;

    [ThreadStatic]
    private static byte[]? t_keyScratch;

    public byte[] Handle(in HttpRequest request, StatsShard stats)
    {
        Responses responses = Responses.Current;
        ref readonly ParsedRequest parsed = ref request.Parsed;
        bool keepAlive = request.KeepAlive;
        if (!parsed.IsPixel)
        {
            return keepAlive ? responses.NotFoundKeepAlive : responses.NotFoundClose;
        }

        if (parsed.Method == RequestMethod.Other)
        {
            return keepAlive ? responses.MethodNotAllowedKeepAlive : responses.MethodNotAllowedClose;
        }

        StatsShard.Increment(ref stats.Pixels);
        if (parsed.QueryLength > 0 && !Count(request))
        {
            // The store took its last batch (the process is exiting): a hit answered now could be neither delivered
            // nor saved, so it is not answered as counted.
            return responses.ServiceUnavailable;
        }

        if (parsed.Method == RequestMethod.Head)
        {
            return keepAlive ? responses.HeadKeepAlive : responses.HeadClose;
        }

        return keepAlive ? responses.PixelKeepAlive : responses.PixelClose;
    }

    // The key's stack buffer is written by the decoder before it is read: zeroing 2 KiB per hit would be wasted.
    // False when the store is closed.
    [SkipLocalsInit]
    private bool Count(in HttpRequest request)
    {
        ReadOnlySpan<byte> query = request.Head.Slice(request.Parsed.QueryStart, request.Parsed.QueryLength);
        int max = maxKeyLength;
        Span<byte> key = max <= StackKeyLimit
            ? stackalloc byte[StackKeyLimit]
            : (t_keyScratch is { } scratch && scratch.Length >= max ? scratch : (t_keyScratch = new byte[max]));
        switch (KeyDecoder.Decode(query, key[..max], out int written))
        {
            case KeyStatus.Found:
                return filter is null ? store.Record(key[..written]) : CountFiltered(request, filter, key[..written]);
            case KeyStatus.TooLong:
                store.RefuseTooLong();
                break;
        }

        return true;
    }

    /// <summary>
    /// The per-client cap counts in the store's window, which a flush ends by taking the store. A hit whose window
    /// ended between the check and the count is checked again in the new one, so that no batch holds more than the
    /// cap for a client; that retry happens only for a hit that meets a take. False when the store is closed.
    /// </summary>
    private bool CountFiltered(in HttpRequest request, HitFilter filter, ReadOnlySpan<byte> key)
    {
        bool uncapped;
        RecordOutcome outcome;
        do
        {
            long window = store.Window;
            IgnoreReason reason = filter.Check(request.Head, request.Parsed, request.Peer.Value, key, window, out uncapped);
            if (reason != IgnoreReason.None)
            {
                store.Ignore(reason);
                return true;
            }

            outcome = store.RecordIn(key, window);
        }
        while (outcome == RecordOutcome.WindowEnded);

        if (outcome == RecordOutcome.Closed)
        {
            return false;
        }

        if (uncapped)
        {
            store.CountUncapped();
        }

        return true;
    }
}
