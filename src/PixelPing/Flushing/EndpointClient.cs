using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PixelPing.Tls;

namespace PixelPing.Flushing;

/// <summary>
/// POSTs a flush body to the endpoint: a fresh connection per flush (flushes are seconds apart), HTTP/1.1 with
/// <c>Connection: close</c>, one deadline over connect, TLS handshake, send and the response status line. Redirects
/// are not followed: a 3xx is a failed flush (README, "What your endpoint receives"), since a redirect to another
/// host would carry the counts and the secret somewhere the config never named.
/// </summary>
internal sealed class EndpointClient
{
    private const int MaxStatusLine = 8192;

    /// <summary>RFC 8305 §5's recommended Connection Attempt Delay: how long one address has before the next is tried too.</summary>
    private static readonly TimeSpan AttemptDelay = TimeSpan.FromMilliseconds(250);
    private readonly Uri _endpoint;
    private readonly TimeSpan _timeout;
    private readonly byte[] _head;

    public EndpointClient(Uri endpoint, TimeSpan timeout, Func<SslClientAuthenticationOptions, SslClientAuthenticationOptions>? tls = null)
    {
        _endpoint = endpoint;
        _timeout = timeout;
        TlsOptions = tls;
        // The path and the query are both kept (the original dropped the query).
        string target = string.IsNullOrEmpty(endpoint.PathAndQuery) ? "/" : endpoint.PathAndQuery;
        _head = Encoding.ASCII.GetBytes(
            "POST " + target + " HTTP/1.1\r\n" +
            "Host: " + endpoint.Authority + "\r\n" +
            "User-Agent: pixel-ping/" + ProductVersion.Value + "\r\n" +
            "Content-Type: application/x-www-form-urlencoded\r\n" +
            "Connection: close\r\n");
    }

    /// <summary>Lets the TLS piece adjust the client options (a private CA, for instance).</summary>
    public Func<SslClientAuthenticationOptions, SslClientAuthenticationOptions>? TlsOptions { get; }

    /// <summary>Sends a body given in pieces of <paramref name="contentLength"/> bytes in all, each written as it comes.</summary>
    /// <param name="completing">
    /// Called just before the write that completes the request: from then on the endpoint may have the whole batch,
    /// whether or not an answer comes.
    /// </param>
    public async Task<FlushOutcome> PostAsync(long contentLength, IEnumerable<ReadOnlyMemory<byte>> body, string? signature,
        CancellationToken cancellation, Action? completing = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(_timeout);
        Socket? socket = null;
        Stream? stream = null;
        var handshake = new EndpointHandshake(_endpoint.IdnHost);
        var attempts = new ConnectAttempts();
        try
        {
            socket = await ConnectAsync(attempts, deadline.Token).ConfigureAwait(false);
            // The body goes out in large pieces; without this, Nagle would hold back the last small one for an ACK.
            socket.NoDelay = true;
            stream = new NetworkStream(socket, ownsSocket: true);
            if (_endpoint.Scheme == Uri.UriSchemeHttps)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await handshake.AuthenticateAsync(ssl, TlsOptions, deadline.Token).ConfigureAwait(false);
            }

            await WriteRequestAsync(stream, contentLength, body, signature, completing, deadline.Token).ConfigureAwait(false);
            int status = await ReadStatusAsync(stream, deadline.Token).ConfigureAwait(false);
            return status is >= 200 and < 300 ? FlushOutcome.Delivered(status) : FlushOutcome.Http(status);
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            return FlushOutcome.Unreachable($"timed out after {_timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}s{attempts.Detail()}");
        }
        catch (AuthenticationException e)
        {
            return FlushOutcome.Unreachable(handshake.Describe(e));
        }
        catch (Exception e) when (e is SocketException or IOException or InvalidDataException)
        {
            return FlushOutcome.Unreachable(Describe(e));
        }
        finally
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            socket?.Dispose();
        }
    }

    /// <summary>
    /// Connects to the endpoint. A host name with several addresses is tried as RFC 8305 ("Happy Eyeballs") does: in
    /// the resolver's order (RFC 6724) with the families interleaved, each next address started when the attempt before
    /// it fails or after <see cref="AttemptDelay"/>, whichever comes first; the first connection wins and the others
    /// are cancelled and closed. So an address whose packets vanish costs 250 ms, not the whole <c>timeout</c>.
    /// </summary>
    private async Task<Socket> ConnectAsync(ConnectAttempts attempts, CancellationToken cancellation)
    {
        string host = _endpoint.IdnHost;
        int port = _endpoint.Port;
        IPAddress[] addresses = IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? literal)
            ? [literal]
            : Interleave(await Dns.GetHostAddressesAsync(host, cancellation).ConfigureAwait(false));
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        if (addresses.Length == 1)
        {
            // One address: its own error, as it is ("connection refused").
            return await AttemptAsync(new IPEndPoint(addresses[0], port), cancellation).ConfigureAwait(false);
        }

        using var others = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var running = new List<(Task<Socket> Connect, IPEndPoint Address)>(addresses.Length);
        int next = 0;
        bool startNext = true;
        try
        {
            while (true)
            {
                if (startNext && next < addresses.Length)
                {
                    var address = new IPEndPoint(addresses[next++], port);
                    running.Add((AttemptAsync(address, others.Token), address));
                }

                if (running.Count == 0)
                {
                    throw new IOException($"every address of {host} failed: {string.Join(", ", attempts.Failed)}");
                }

                var waits = new List<Task>(running.Count + 1);
                waits.AddRange(running.Select(static r => (Task)r.Connect));
                Task? delay = next < addresses.Length ? Task.Delay(AttemptDelay, others.Token) : null;
                if (delay is not null)
                {
                    waits.Add(delay);
                }

                Task done = await Task.WhenAny(waits).ConfigureAwait(false);
                cancellation.ThrowIfCancellationRequested();
                startNext = true;
                if (done == delay)
                {
                    continue;
                }

                int index = running.FindIndex(r => r.Connect == done);
                (Task<Socket> connect, IPEndPoint failedOrWon) = running[index];
                running.RemoveAt(index);
                if (connect.IsCompletedSuccessfully)
                {
                    return connect.Result;
                }

                attempts.Failed.Add($"{failedOrWon}: {Describe(connect.Exception!.InnerException!)}");
            }
        }
        finally
        {
            // The attempts still under way lost (or the deadline passed): cancelled, and closed if they connected since.
            await others.CancelAsync().ConfigureAwait(false);
            foreach ((Task<Socket> connect, IPEndPoint address) in running)
            {
                try
                {
                    (await connect.ConfigureAwait(false)).Dispose();
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                    attempts.Unanswered.Add(address.ToString());
                }
            }
        }
    }

    private static async Task<Socket> AttemptAsync(IPEndPoint address, CancellationToken cancellation)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(address, cancellation).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The resolver's order (RFC 6724) with the two families alternating from the first address's (RFC 8305 §4), so
    /// that a family that does not work costs one attempt, not all of its addresses; IPv6 only where the system has it.
    /// </summary>
    internal static IPAddress[] Interleave(IPAddress[] resolved)
    {
        IPAddress[] usable = [.. resolved.Where(static a => a.AddressFamily == AddressFamily.InterNetwork
            || (a.AddressFamily == AddressFamily.InterNetworkV6 && Socket.OSSupportsIPv6)).Distinct()];
        if (usable.Length == 0)
        {
            return usable;
        }

        var first = new Queue<IPAddress>(usable.Where(a => a.AddressFamily == usable[0].AddressFamily));
        var second = new Queue<IPAddress>(usable.Where(a => a.AddressFamily != usable[0].AddressFamily));
        var order = new IPAddress[usable.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = (i % 2 == 0 || second.Count == 0) && first.Count > 0 ? first.Dequeue() : second.Dequeue();
        }

        return order;
    }

    /// <summary>What became of the addresses of a host name tried in turn, for the log line of a flush that failed.</summary>
    private sealed class ConnectAttempts
    {
        public List<string> Failed { get; } = [];

        public List<string> Unanswered { get; } = [];

        /// <summary>" (…)" after "timed out after 10s", when several addresses were tried.</summary>
        public string Detail()
        {
            var parts = new List<string>(2);
            if (Failed.Count > 0)
            {
                parts.Add(string.Join(", ", Failed));
            }

            if (Unanswered.Count > 0)
            {
                parts.Add("no answer from " + string.Join(", ", Unanswered));
            }

            return parts.Count == 0 ? "" : " (" + string.Join("; ", parts) + ")";
        }
    }

    private byte[] ComposeHead(long contentLength, string? signature)
    {
        string extra = "Content-Length: " + contentLength.ToString(CultureInfo.InvariantCulture) + "\r\n" +
            (signature is null ? "" : "X-Pixel-Ping-Signature: " + signature + "\r\n") + "\r\n";
        byte[] head = new byte[_head.Length + Encoding.ASCII.GetByteCount(extra)];
        _head.CopyTo(head, 0);
        Encoding.ASCII.GetBytes(extra, head.AsSpan(_head.Length));
        return head;
    }

    private async Task WriteRequestAsync(Stream stream, long contentLength, IEnumerable<ReadOnlyMemory<byte>> body, string? signature,
        Action? completing, CancellationToken cancellation)
    {
        // The head and the first piece go out in one write (a small request is one segment); the other
        // pieces follow as the encoder makes them, so the whole body never sits in memory at once.
        byte[]? head = ComposeHead(contentLength, signature);
        long sent = 0;
        foreach (ReadOnlyMemory<byte> piece in body)
        {
            sent += piece.Length;
            if (sent == contentLength)
            {
                completing?.Invoke();
            }

            if (head is not null)
            {
                byte[] first = new byte[head.Length + piece.Length];
                head.CopyTo(first, 0);
                piece.Span.CopyTo(first.AsSpan(head.Length));
                head = null;
                await stream.WriteAsync(first, cancellation).ConfigureAwait(false);
            }
            else
            {
                await stream.WriteAsync(piece, cancellation).ConfigureAwait(false);
            }
        }

        if (head is not null)
        {
            // No body at all: the head completes the request.
            completing?.Invoke();
            await stream.WriteAsync(head, cancellation).ConfigureAwait(false);
        }

        if (sent != contentLength)
        {
            // A body that does not match its Content-Length would desynchronise the endpoint's connection.
            throw new InvalidDataException($"the body was {sent} bytes, not the {contentLength} announced");
        }
    }

    /// <summary>
    /// Reads up to the end of the final status line and returns its status code (RFC 9112 §4). Interim 1xx answers
    /// (a proxy's <c>100 Continue</c>, <c>103 Early Hints</c> with its headers) come before the final one and are read
    /// past, header lines and all (RFC 9110 §15.2); <c>101 Switching Protocols</c> would end HTTP on this connection,
    /// so it is returned as the answer, and fails the flush like any status outside 2xx.
    /// </summary>
    private static async Task<int> ReadStatusAsync(Stream stream, CancellationToken cancellation)
    {
        byte[] buffer = new byte[1024];
        int start = 0;
        int used = 0;
        bool inInterim = false;
        bool interim = false;
        while (true)
        {
            int lineEnd = buffer.AsSpan(start, used - start).IndexOf((byte)'\n');
            if (lineEnd >= 0)
            {
                ReadOnlySpan<byte> line = buffer.AsSpan(start, lineEnd);
                start += lineEnd + 1;
                if (inInterim)
                {
                    // A header line of the interim answer; the empty line ends it.
                    inInterim = !(line.IsEmpty || line.SequenceEqual("\r"u8));
                    continue;
                }

                int status = ParseStatusLine(line);
                if (status is >= 100 and < 200 && status != 101)
                {
                    inInterim = interim = true;
                    continue;
                }

                return status;
            }

            if (start > 0)
            {
                buffer.AsSpan(start, used - start).CopyTo(buffer);
                used -= start;
                start = 0;
            }

            if (used == buffer.Length)
            {
                if (buffer.Length >= MaxStatusLine)
                {
                    throw new InvalidDataException("the endpoint sent an over-long status or header line");
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }

            int read = await stream.ReadAsync(buffer.AsMemory(used), cancellation).ConfigureAwait(false);
            if (read == 0)
            {
                throw new InvalidDataException(interim
                    ? "the endpoint closed the connection after an interim 1xx answer, before the final one"
                    : used == 0
                    ? "the endpoint closed the connection without a response"
                    : "the endpoint closed the connection in the middle of the status line");
            }

            used += read;
        }
    }

    internal static int ParseStatusLine(ReadOnlySpan<byte> line)
    {
        // "HTTP/1.1 200 OK" — version, one space, three digits, then a space or the end of the line.
        if (line.Length >= 12 && line.StartsWith("HTTP/1."u8) && line[8] == (byte)' ' &&
            char.IsAsciiDigit((char)line[9]) && char.IsAsciiDigit((char)line[10]) && char.IsAsciiDigit((char)line[11]) &&
            (line.Length == 12 || line[12] is (byte)' ' or (byte)'\r'))
        {
            return ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
        }

        throw new InvalidDataException("the endpoint did not answer with an HTTP/1.x status line");
    }

    /// <summary>A connection's failure in the words of a flush's log line.</summary>
    internal static string Describe(Exception e) => e switch
    {
        SocketException s => s.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.NoData => "host not found",
            SocketError.TimedOut => "connection timed out",
            SocketError.ConnectionReset => "connection reset by the endpoint",
            _ => s.Message,
        },
        IOException { InnerException: SocketException inner } => Describe(inner),
        _ => e.Message,
    };
}
