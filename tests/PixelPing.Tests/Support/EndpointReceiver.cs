using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace PixelPing.Tests.Support;

/// <summary>How the receiver answers the next flushes.</summary>
public enum ReceiverMode
{
    Accept,
    Status500,
    Redirect301,
    TooMany429,
    Hang,
    CloseMidResponse,
    CloseBeforeResponse,

    /// <summary>Answers 200 after <see cref="EndpointReceiver.SlowDelay"/>; the batch is stored just before.</summary>
    Slow,

    /// <summary>Stores the batch, then never answers: the flush times out although the batch arrived.</summary>
    StoreThenHang,

    /// <summary>Stores the batch, then closes in the middle of the status line.</summary>
    StoreThenCloseMidResponse,

    /// <summary>Answers <c>100 Continue</c>, then 200.</summary>
    Continue100,

    /// <summary>Answers <c>103 Early Hints</c> with a <c>Link</c> header, then 200.</summary>
    EarlyHints103,

    /// <summary>Answers <c>101 Switching Protocols</c> (not a status this client can take): the batch is not stored.</summary>
    Switching101,
}

/// <summary>One POST the receiver read, decoded.</summary>
public sealed record ReceivedFlush(string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body,
    IReadOnlyDictionary<string, string> Form, IReadOnlyDictionary<string, long> Counts, bool Stored);

/// <summary>
/// A real HTTP endpoint on 127.0.0.1 for the flusher to POST to, written on raw sockets so that the tests can make it
/// misbehave in every way an endpoint can (500, redirect, hang, close mid-response). It decodes each body like a
/// receiver application would (form, then JSON) and, like a careful receiver, stores a batch id only once.
/// </summary>
public sealed class EndpointReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedFlush> _received = new();
    private readonly ConcurrentDictionary<string, bool> _batches = new();
    private readonly ConcurrentDictionary<string, long> _totals = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly IPAddress _address;
    private readonly List<Socket> _clients = [];
    private Socket _listener;
    private Task _acceptLoop;
    private int _requests;
    private long _totalHits;
    private volatile SslStreamCertificateContext? _tls;

    /// <summary>A plain-HTTP receiver on <paramref name="address"/> (127.0.0.1 unless given) and the port given, or a free one.</summary>
    public EndpointReceiver(int port = 0, IPAddress? address = null)
    {
        _address = address ?? IPAddress.Loopback;
        _listener = Bind(_address, port);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _acceptLoop = AcceptLoopAsync(_listener);
    }

    /// <summary>An HTTPS receiver serving <paramref name="certificate"/> (with its private key) and the chain.</summary>
    public EndpointReceiver(X509Certificate2 certificate, params X509Certificate2[] chain)
        : this()
    {
        UseCertificate(certificate, chain);
    }

    public int Port { get; }

    /// <summary>The host the URL names; an HTTPS receiver's certificate must be valid for it.</summary>
    public string Host { get; set; } = "127.0.0.1";

    public string Url => $"{(_tls is null ? "http" : "https")}://{Host}:{Port}/hits?site=test";

    /// <summary>Serves HTTPS with this certificate from the next connection on (a receiver "fixed" by its admin).</summary>
    public void UseCertificate(X509Certificate2 certificate, params X509Certificate2[] chain) =>
        _tls = SslStreamCertificateContext.Create(certificate, [.. chain], offline: true);

    public volatile ReceiverMode Mode = ReceiverMode.Accept;

    /// <summary>How long <see cref="ReceiverMode.Slow"/> waits before answering 200.</summary>
    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromSeconds(1);

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>
    /// Keep every request's body and decoded form (the default). Floods of millions of keys turn it off, so that the
    /// test process does not hold every batch; the totals are kept either way.
    /// </summary>
    public bool KeepRequests { get; init; } = true;

    /// <summary>Which keys get a per-key total (all when null); <see cref="TotalHits"/> counts every key regardless.</summary>
    public Func<string, bool>? TrackKey { get; init; }

    public IReadOnlyCollection<ReceivedFlush> Received => _received.ToArray();

    /// <summary>Hits stored, summed over distinct batch ids (a resent batch counts once).</summary>
    public long TotalHits => Interlocked.Read(ref _totalHits);

    /// <summary>Ids of the batches stored, each once.</summary>
    public IReadOnlyCollection<string> StoredBatchIds => _batches.Keys.ToArray();

    public IReadOnlyDictionary<string, long> Totals => new Dictionary<string, long>(_totals);

    /// <summary>Stops listening, so connections are refused, until <see cref="Listen"/>.</summary>
    public void Refuse()
    {
        _listener.Dispose();
        lock (_clients)
        {
            foreach (Socket client in _clients)
            {
                client.Dispose();
            }

            _clients.Clear();
        }
    }

    public void Listen()
    {
        _listener = Bind(_address, Port);
        _acceptLoop = AcceptLoopAsync(_listener);
    }

    public async Task<bool> WaitForTotalAsync(long hits, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (TotalHits >= hits)
            {
                return true;
            }

            await Task.Delay(20);
        }

        return TotalHits >= hits;
    }

    public async Task<bool> WaitForRequestsAsync(int count, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && Requests < count)
        {
            await Task.Delay(20);
        }

        return Requests >= count;
    }

    private static Socket Bind(IPAddress address, int port)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        socket.Bind(new IPEndPoint(address, port));
        socket.Listen(128);
        return socket;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            lock (_clients)
            {
                _clients.Add(client);
            }

            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(Socket client)
    {
        try
        {
            await using Stream? stream = await OpenAsync(client);
            if (stream is null)
            {
                return;
            }

            byte[] buffer = new byte[1 << 16];
            int used = 0;
            int headEnd;
            // Reads more into the buffer (growing it); false at end of stream.
            async Task<bool> ReadMoreAsync()
            {
                if (used == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                int n = await stream.ReadAsync(buffer.AsMemory(used), _stop.Token);
                used += n;
                return n > 0;
            }

            while ((headEnd = buffer.AsSpan(0, used).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (!await ReadMoreAsync())
                {
                    return;
                }
            }

            string head = Encoding.ASCII.GetString(buffer, 0, headEnd);
            string[] lines = head.Split("\r\n");
            string target = lines[0].Split(' ')[1];
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string line in lines.Skip(1))
            {
                int colon = line.IndexOf(':');
                headers[line[..colon]] = line[(colon + 1)..].Trim();
            }

            int length = int.Parse(headers["Content-Length"]);
            int bodyStart = headEnd + 4;
            while (used - bodyStart < length)
            {
                if (!await ReadMoreAsync())
                {
                    return;
                }
            }

            byte[] body = buffer.AsSpan(bodyStart, length).ToArray();
            Interlocked.Increment(ref _requests);
            ReceiverMode mode = Mode;
            switch (mode)
            {
                case ReceiverMode.Hang:
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                    return;
                case ReceiverMode.StoreThenHang:
                    Record(target, headers, body, stored: true);
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                    return;
                case ReceiverMode.StoreThenCloseMidResponse:
                    Record(target, headers, body, stored: true);
                    await stream.WriteAsync("HTTP/1.1 2"u8.ToArray(), _stop.Token);
                    return;
                case ReceiverMode.CloseBeforeResponse:
                    Record(target, headers, body, stored: false);
                    return;
                case ReceiverMode.CloseMidResponse:
                    Record(target, headers, body, stored: false);
                    await stream.WriteAsync("HTTP/1."u8.ToArray(), _stop.Token);
                    return;
                case ReceiverMode.Slow:
                    await Task.Delay(SlowDelay, _stop.Token);
                    break;
                case ReceiverMode.Continue100:
                    await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), _stop.Token);
                    break;
                case ReceiverMode.EarlyHints103:
                    await stream.WriteAsync("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"u8.ToArray(), _stop.Token);
                    break;
                case ReceiverMode.Switching101:
                    Record(target, headers, body, stored: false);
                    await stream.WriteAsync("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"u8.ToArray(), _stop.Token);
                    return;
            }

            (int status, string reason) = mode switch
            {
                ReceiverMode.Status500 => (500, "Internal Server Error"),
                ReceiverMode.Redirect301 => (301, "Moved Permanently"),
                ReceiverMode.TooMany429 => (429, "Too Many Requests"),
                _ => (200, "OK"),
            };
            Record(target, headers, body, stored: status == 200);
            string response = $"HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(response), _stop.Token);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
        }
        catch (IOException)
        {
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task<Stream?> OpenAsync(Socket client)
    {
        var network = new NetworkStream(client, ownsSocket: true);
        if (_tls is not { } tls)
        {
            return network;
        }

        var ssl = new SslStream(network);
        try
        {
            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = tls }, _stop.Token);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            // The flusher refused the certificate: what the tests expect of a wrong one.
            await ssl.DisposeAsync();
            return null;
        }
    }

    private void Record(string target, Dictionary<string, string> headers, byte[] body, bool stored)
    {
        if (!KeepRequests)
        {
            RecordTotalsOnly(body, stored);
            return;
        }

        Dictionary<string, string> form = ParseForm(Encoding.ASCII.GetString(body));
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        using (JsonDocument json = JsonDocument.Parse(form["json"]))
        {
            foreach (JsonProperty property in json.RootElement.EnumerateObject())
            {
                counts[property.Name] = property.Value.GetInt64();
            }
        }

        if (stored && _batches.TryAdd(form["batch"], true))
        {
            foreach ((string key, long count) in counts)
            {
                Interlocked.Add(ref _totalHits, count);
                if (TrackKey is null || TrackKey(key))
                {
                    _totals.AddOrUpdate(key, count, (_, old) => old + count);
                }
            }
        }

        if (KeepRequests)
        {
            _received.Enqueue(new ReceivedFlush(target, headers, body, form, counts, stored));
        }
    }

    // The flood path: bodies of tens of megabytes, decoded as bytes and read with Utf8JsonReader, nothing kept.
    private void RecordTotalsOnly(byte[] body, bool stored)
    {
        if (!stored)
        {
            return;
        }

        byte[] json = [];
        string batch = "";
        foreach (Range range in body.AsSpan().Split((byte)'&'))
        {
            ReadOnlySpan<byte> pair = body.AsSpan(range);
            if (pair.StartsWith("json="u8))
            {
                json = PercentDecode(pair[5..]);
            }
            else if (pair.StartsWith("batch="u8))
            {
                batch = Encoding.UTF8.GetString(PercentDecode(pair[6..]));
            }
        }

        if (!_batches.TryAdd(batch, true))
        {
            return;
        }

        var reader = new Utf8JsonReader(json);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string key = reader.GetString()!;
            reader.Read();
            long count = reader.GetInt64();
            Interlocked.Add(ref _totalHits, count);
            if (TrackKey is null || TrackKey(key))
            {
                _totals.AddOrUpdate(key, count, (_, old) => old + count);
            }
        }
    }

    private static byte[] PercentDecode(ReadOnlySpan<byte> encoded)
    {
        byte[] decoded = new byte[encoded.Length];
        int n = 0;
        for (int i = 0; i < encoded.Length; i++)
        {
            byte b = encoded[i];
            if (b == (byte)'%' && i + 2 < encoded.Length)
            {
                decoded[n++] = (byte)((HexValue(encoded[i + 1]) << 4) | HexValue(encoded[i + 2]));
                i += 2;
            }
            else
            {
                decoded[n++] = b == (byte)'+' ? (byte)' ' : b;
            }
        }

        return decoded[..n];
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        _ => throw new FormatException($"not a hex digit: 0x{b:X2}"),
    };

    /// <summary>application/x-www-form-urlencoded, decoded the way a receiver's framework does.</summary>
    public static Dictionary<string, string> ParseForm(string body)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in body.Split('&'))
        {
            int eq = pair.IndexOf('=');
            string name = eq < 0 ? pair : pair[..eq];
            string value = eq < 0 ? "" : pair[(eq + 1)..];
            form[Uri.UnescapeDataString(name.Replace('+', ' '))] = Uri.UnescapeDataString(value.Replace('+', ' '));
        }

        return form;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        Refuse();
        try
        {
            await _acceptLoop;
        }
        catch (Exception)
        {
        }

        _stop.Dispose();
    }
}
