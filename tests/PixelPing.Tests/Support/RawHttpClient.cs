using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace PixelPing.Tests.Support;

/// <summary>One HTTP response as read off the wire.</summary>
public sealed record RawResponse(int Status, string Head, byte[] Body)
{
    public string? Header(string name)
    {
        foreach (string line in Head.Split("\r\n").Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }
}

/// <summary>
/// A client on a raw socket, so tests control every byte sent (pipelining, garbage, partial requests) and see every
/// byte answered. Reads responses framed by Content-Length, which every answer of the server carries.
/// </summary>
public sealed class RawHttpClient : IDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <param name="from">The local address to connect from (another loopback address such as 127.0.0.2, to be
    /// another client); the system's choice when null.</param>
    public RawHttpClient(int port, IPAddress? address = null, IPAddress? from = null)
    {
        _socket = Connect(port, address, from);
        _stream = new NetworkStream(_socket, ownsSocket: true) { ReadTimeout = 10_000 };
    }

    private RawHttpClient(Socket socket, SslStream stream)
    {
        _socket = socket;
        _stream = stream;
    }

    /// <summary>
    /// Connects and completes a TLS handshake that trusts only <paramref name="trusted"/> (no system store) and
    /// checks <paramref name="targetHost"/>; throws <see cref="AuthenticationException"/> when the server's chain
    /// or name does not verify.
    /// </summary>
    public static RawHttpClient ConnectTls(int port, X509Certificate2Collection trusted, string targetHost = "localhost",
        SslProtocols protocols = SslProtocols.None, IPAddress? address = null)
    {
        Socket socket = Connect(port, address);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true) { ReadTimeout = 10_000, WriteTimeout = 10_000 });
        try
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
            };
            policy.CustomTrustStore.AddRange(trusted);
            ssl.AuthenticateAsClient(new SslClientAuthenticationOptions
            {
                TargetHost = targetHost,
                EnabledSslProtocols = protocols,
                CertificateChainPolicy = policy,
            });
            return new RawHttpClient(socket, ssl);
        }
        catch
        {
            ssl.Dispose();
            throw;
        }
    }

    public Socket Socket => _socket;

    /// <summary>The certificate the server presented (TLS only).</summary>
    public X509Certificate2? RemoteCertificate => (_stream as SslStream)?.RemoteCertificate as X509Certificate2;

    /// <summary>The negotiated protocol (TLS only).</summary>
    public SslProtocols Protocol => (_stream as SslStream)?.SslProtocol ?? SslProtocols.None;

    private static Socket Connect(int port, IPAddress? address, IPAddress? from = null)
    {
        address ??= IPAddress.Loopback;
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (from is not null)
            {
                socket.Bind(new IPEndPoint(from, 0));
            }

            socket.Connect(new IPEndPoint(address, port));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Send(string text) => Send(Encoding.Latin1.GetBytes(text));

    public void Send(byte[] bytes) => _stream.Write(bytes);

    public static string Get(string target, string extra = "") =>
        $"GET {target} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n";

    /// <summary>Sends a GET and reads its response.</summary>
    public RawResponse Request(string target, string extra = "")
    {
        Send(Get(target, extra));
        return Read(head: false);
    }

    /// <summary>Reads one response; throws if the connection closes first or nothing comes within ten seconds.</summary>
    public RawResponse Read(bool head = false)
    {
        int headEnd;
        while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
        {
            Fill();
        }

        string headText = Encoding.Latin1.GetString(_buffer, _start, headEnd);
        int status = int.Parse(headText.AsSpan(9, 3));
        var response = new RawResponse(status, headText, []);
        int length = head ? 0 : int.Parse(response.Header("Content-Length") ?? "0");
        int bodyStart = _start + headEnd + 4;
        while (_end - bodyStart < length)
        {
            int offset = bodyStart - _start;
            Fill();
            bodyStart = _start + offset;
        }

        byte[] body = _buffer.AsSpan(bodyStart, length).ToArray();
        _start = bodyStart + length;
        return response with { Body = body };
    }

    /// <summary>True when the server has closed the connection (reads end-of-stream or a reset) with nothing pending.</summary>
    public bool IsClosedByServer()
    {
        try
        {
            if (_start < _end)
            {
                return false;
            }

            return _stream.Read(_buffer, 0, _buffer.Length) == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private void Fill()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int n = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0)
        {
            throw new IOException("the server closed the connection");
        }

        _end += n;
    }

    public void Dispose() => _stream.Dispose();
}
