using System.Net;
using System.Net.Sockets;
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
    private readonly NetworkStream _stream;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    public RawHttpClient(int port, IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        _socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _socket.Connect(new IPEndPoint(address, port));
        _stream = new NetworkStream(_socket, ownsSocket: true) { ReadTimeout = 10_000 };
    }

    public Socket Socket => _socket;

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
