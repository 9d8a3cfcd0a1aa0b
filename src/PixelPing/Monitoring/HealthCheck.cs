using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using PixelPing.Config;

namespace PixelPing.Monitoring;

/// <summary>
/// <c>--healthcheck CONFIG</c>: asks the server that config describes whether it is up, for a container image that
/// has no curl (the Dockerfile's HEALTHCHECK). With a status listener it asks <c>/livez</c>; without one it sends
/// <c>HEAD /pixel.gif</c> with no query to the pixel port, which counts no hit, over TLS when the port speaks HTTPS
/// without checking the certificate (it is the server's own). Up means a 200 within the deadline.
/// </summary>
internal static class HealthCheck
{
    /// <summary>The whole exchange, so that the process exits within 2 s with its start and exit included.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromMilliseconds(1800);

    /// <summary>True when the server answered 200; <paramref name="line"/> says what was asked and what came back.</summary>
    public static async Task<(bool Up, string Line)> RunAsync(Settings settings)
    {
        bool tls = settings.Status is null && settings.Tls;
        string path = settings.Status is null ? "/pixel.gif" : "/livez";
        IPEndPoint? target = settings.Status is { } status ? new IPEndPoint(Reachable(status.Address), status.Port) : null;
        string where = target is not null
            ? "http://" + Net.Listener.FormatAddress(target.Address, target.Port) + path
            : $"{(tls ? "https" : "http")}://{settings.Host ?? "127.0.0.1"}:{settings.Port.ToString(CultureInfo.InvariantCulture)}{path}";
        if (target is null && settings.Port == 0)
        {
            return (false, $"pixel-ping: unhealthy: the config asks for any free port (\"port\": 0), so there is no port to ask");
        }

        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(Deadline);
        try
        {
            target ??= new IPEndPoint(await ResolveAsync(settings.Host, deadline.Token).ConfigureAwait(false), settings.Port);
            using var socket = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(target, deadline.Token).ConfigureAwait(false);
            Stream stream = new NetworkStream(socket, ownsSocket: false);
            await using (stream.ConfigureAwait(false))
            {
                if (tls)
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                    stream = ssl;
                    await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                    {
                        TargetHost = settings.Host ?? "localhost",
                        // The server's own certificate, reached over loopback or its own address: what matters here is
                        // that it answers, not who signed its certificate (an expired one still serves pixels).
                        RemoteCertificateValidationCallback = static (_, _, _, _) => true,
                    }, deadline.Token).ConfigureAwait(false);
                }

                string method = settings.Status is null ? "HEAD" : "GET";
                byte[] request = Encoding.ASCII.GetBytes(
                    $"{method} {path} HTTP/1.1\r\nHost: {Net.Listener.FormatAddress(target.Address, target.Port)}\r\nUser-Agent: pixel-ping-healthcheck\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(request, deadline.Token).ConfigureAwait(false);
                int code = await ReadStatusAsync(stream, deadline.Token).ConfigureAwait(false);
                string took = clock.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture);
                return code == 200
                    ? (true, $"pixel-ping: healthy: {where} answered 200 in {took} ms")
                    : (false, code < 0 ? $"pixel-ping: unhealthy: {where} answered no HTTP status line" : $"pixel-ping: unhealthy: {where} answered {code.ToString(CultureInfo.InvariantCulture)}");
            }
        }
        catch (OperationCanceledException)
        {
            return (false, $"pixel-ping: unhealthy: {where} did not answer within {Deadline.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (SocketException e)
        {
            string reason = e.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused (is the server running?)",
                SocketError.HostNotFound or SocketError.NoData => "host not found",
                _ => e.Message,
            };
            return (false, $"pixel-ping: unhealthy: {where}: {reason}");
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
            return (false, $"pixel-ping: unhealthy: {where}: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>A listener on every address (0.0.0.0, ::) is reached through loopback.</summary>
    private static IPAddress Reachable(IPAddress address) =>
        address.Equals(IPAddress.Any) ? IPAddress.Loopback : address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : address;

    private static async Task<IPAddress> ResolveAsync(string? host, CancellationToken cancel)
    {
        if (host is null)
        {
            // Listening on every interface includes loopback, over IPv4 whether the socket is dual-mode or IPv4 only.
            return IPAddress.Loopback;
        }

        if (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? literal))
        {
            return Reachable(literal);
        }

        IPAddress[] addresses = await Dns.GetHostAddressesAsync(host, cancel).ConfigureAwait(false);
        return addresses.Length > 0 ? addresses[0] : throw new SocketException((int)SocketError.HostNotFound);
    }

    /// <summary>The status code of the response's status line (<c>HTTP/1.1 200 OK</c>); -1 when it is not one.</summary>
    private static async Task<int> ReadStatusAsync(Stream stream, CancellationToken cancel)
    {
        byte[] buffer = new byte[256];
        int length = 0;
        while (length < 12)
        {
            int read = await stream.ReadAsync(buffer.AsMemory(length), cancel).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
        }

        ReadOnlySpan<byte> line = buffer.AsSpan(0, length);
        return line.Length >= 12 && line.StartsWith("HTTP/1."u8) && line[8] == (byte)' ' &&
            int.TryParse(Encoding.ASCII.GetString(line.Slice(9, 3)), NumberStyles.None, CultureInfo.InvariantCulture, out int code)
            ? code
            : -1;
    }
}
