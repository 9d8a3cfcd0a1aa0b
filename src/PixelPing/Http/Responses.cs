using System.Globalization;
using System.Reflection;
using System.Text;

namespace PixelPing.Http;

/// <summary>
/// Every response the server sends, precomposed as whole byte arrays (status line, headers, body), rebuilt once a
/// second with a fresh <c>Date</c> header (RFC 9110 §6.6.1). Readers take <see cref="Current"/> once per batch of
/// requests; the swap is a single reference write, so a reader never sees a half-built set.
/// </summary>
internal sealed class Responses
{
    private static readonly byte[] s_pixel = LoadPixel();
    private static Responses s_current = Build(DateTime.UtcNow);
    private static Timer? s_timer;

    private Responses(string date)
    {
        Date = date;
        string pixelHeaders =
            "Cache-Control: private, no-cache, proxy-revalidate, max-age=0\r\n" +
            "Content-Type: image/gif\r\n" +
            "Content-Disposition: inline\r\n" +
            "Content-Length: " + s_pixel.Length.ToString(CultureInfo.InvariantCulture) + "\r\n" +
            "Date: " + date + "\r\n";
        PixelKeepAlive = Compose("200 OK", pixelHeaders, keepAlive: true, s_pixel);
        PixelClose = Compose("200 OK", pixelHeaders, keepAlive: false, s_pixel);
        HeadKeepAlive = Compose("200 OK", pixelHeaders, keepAlive: true, []);
        HeadClose = Compose("200 OK", pixelHeaders, keepAlive: false, []);

        string notFound = "Content-Type: text/html\r\nContent-Length: 0\r\nDate: " + date + "\r\n";
        NotFoundKeepAlive = Compose("404 Not Found", notFound, keepAlive: true, []);
        NotFoundClose = Compose("404 Not Found", notFound, keepAlive: false, []);

        string notAllowed = "Allow: GET, HEAD\r\nContent-Type: text/html\r\nContent-Length: 0\r\nDate: " + date + "\r\n";
        MethodNotAllowedKeepAlive = Compose("405 Method Not Allowed", notAllowed, keepAlive: true, []);
        MethodNotAllowedClose = Compose("405 Method Not Allowed", notAllowed, keepAlive: false, []);

        string empty = "Content-Length: 0\r\nDate: " + date + "\r\n";
        BadRequest = Compose("400 Bad Request", empty, keepAlive: false, []);
        PayloadTooLarge = Compose("413 Content Too Large", empty, keepAlive: false, []);
        UriTooLong = Compose("414 URI Too Long", empty, keepAlive: false, []);
        HeadersTooLarge = Compose("431 Request Header Fields Too Large", empty, keepAlive: false, []);
        NotImplemented = Compose("501 Not Implemented", empty, keepAlive: false, []);
        VersionNotSupported = Compose("505 HTTP Version Not Supported", empty, keepAlive: false, []);
        ServiceUnavailable = Compose("503 Service Unavailable", empty, keepAlive: false, []);
    }

    public static Responses Current => Volatile.Read(ref s_current);

    /// <summary>The Date header's value in these responses (RFC 9110 §5.6.7 IMF-fixdate).</summary>
    public string Date { get; }

    public byte[] PixelKeepAlive { get; }
    public byte[] PixelClose { get; }
    public byte[] HeadKeepAlive { get; }
    public byte[] HeadClose { get; }
    public byte[] NotFoundKeepAlive { get; }
    public byte[] NotFoundClose { get; }
    public byte[] MethodNotAllowedKeepAlive { get; }
    public byte[] MethodNotAllowedClose { get; }
    public byte[] BadRequest { get; }
    public byte[] PayloadTooLarge { get; }
    public byte[] UriTooLong { get; }
    public byte[] HeadersTooLarge { get; }
    public byte[] NotImplemented { get; }
    public byte[] VersionNotSupported { get; }

    /// <summary>A pixel that came after the last batch was taken (the process is exiting).</summary>
    public byte[] ServiceUnavailable { get; }

    /// <summary>The close-the-connection answer for a parser error status.</summary>
    public byte[] For(RequestRejection rejection) => rejection.Status() switch
    {
        413 => PayloadTooLarge,
        414 => UriTooLong,
        431 => HeadersTooLarge,
        501 => NotImplemented,
        505 => VersionNotSupported,
        _ => BadRequest,
    };

    /// <summary>Starts the once-a-second refresh of the Date header (idempotent).</summary>
    public static void StartClock()
    {
        if (s_timer is null)
        {
            var timer = new Timer(static _ => Refresh(DateTime.UtcNow), null, 1000 - DateTime.UtcNow.Millisecond, 1000);
            if (Interlocked.CompareExchange(ref s_timer, timer, null) is not null)
            {
                timer.Dispose();
            }
        }
    }

    internal static void Refresh(DateTime utcNow) => Volatile.Write(ref s_current, Build(utcNow));

    private static Responses Build(DateTime utcNow) => new(utcNow.ToString("r", CultureInfo.InvariantCulture));

    /// <summary>A whole response: status line, the headers given (each ending CRLF), Connection, blank line, body.</summary>
    public static byte[] Compose(string status, string headers, bool keepAlive, ReadOnlySpan<byte> body)
    {
        string head = "HTTP/1.1 " + status + "\r\n" + headers +
            (keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
        byte[] bytes = new byte[Encoding.ASCII.GetByteCount(head) + body.Length];
        int n = Encoding.ASCII.GetBytes(head, bytes);
        body.CopyTo(bytes.AsSpan(n));
        return bytes;
    }

    private static byte[] LoadPixel()
    {
        using Stream? stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("pixel.gif");
        if (stream is null)
        {
            throw new InvalidOperationException("pixel.gif is not embedded in the executable");
        }

        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
