using System.Globalization;
using PixelPing.Http;
using PixelPing.Net;

namespace PixelPing.Monitoring;

/// <summary>
/// The status listener's meaning of a request, on the same transport as the pixel port: <c>/livez</c> (200 while the
/// process runs its loops), <c>/readyz</c> (200 while the pixel port accepts and no stop signal came, else 503) and
/// <c>/metrics</c> (Prometheus text). Neither probe looks at the endpoint: a down endpoint must not get the one
/// process holding the undelivered hits restarted.
/// </summary>
internal sealed class StatusApplication(ServerMetrics metrics, Func<bool> ready) : IRequestHandler
{
    private const string TextPlain = "Content-Type: text/plain; charset=utf-8\r\n";

    public byte[] Handle(in HttpRequest request, StatsShard stats)
    {
        Responses responses = Responses.Current;
        ParsedRequest parsed = request.Parsed;
        bool keepAlive = request.KeepAlive;
        ReadOnlySpan<byte> path = request.Head.Slice(parsed.PathStart, parsed.PathLength);
        bool known = path.SequenceEqual("/livez"u8) || path.SequenceEqual("/readyz"u8) || path.SequenceEqual("/metrics"u8);
        if (!known)
        {
            return keepAlive ? responses.NotFoundKeepAlive : responses.NotFoundClose;
        }

        if (parsed.Method == RequestMethod.Other)
        {
            return keepAlive ? responses.MethodNotAllowedKeepAlive : responses.MethodNotAllowedClose;
        }

        bool head = parsed.Method == RequestMethod.Head;
        if (path.SequenceEqual("/metrics"u8))
        {
            return metrics.Scrape(text => Answer(responses, "200 OK", "Content-Type: " + MetricsWriter.ContentType + "\r\n", text, head, keepAlive));
        }

        if (path.SequenceEqual("/livez"u8))
        {
            return Answer(responses, "200 OK", TextPlain, "ok\n"u8, head, keepAlive);
        }

        return ready()
            ? Answer(responses, "200 OK", TextPlain, "ready\n"u8, head, keepAlive)
            : Answer(responses, "503 Service Unavailable", TextPlain, "stopping\n"u8, head, keepAlive);
    }

    private static byte[] Answer(Responses responses, string status, string contentType, ReadOnlySpan<byte> body, bool head, bool keepAlive) =>
        Responses.Compose(status,
            contentType + "Cache-Control: no-store\r\nContent-Length: " + body.Length.ToString(CultureInfo.InvariantCulture) + "\r\nDate: " + responses.Date + "\r\n",
            keepAlive, head ? [] : body);
}
