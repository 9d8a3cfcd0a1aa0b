using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using PixelPing.Tls;

namespace PixelPing.Flushing.Redis;

/// <summary>
/// One connection to one Redis node, over TCP or TLS: writes commands, reads their replies in order. Every exchange
/// (the connect and TLS handshake, or commands sent and their replies read) has its own deadline. Any failure — an
/// I/O error, the deadline, bytes that are not RESP2 — leaves the connection unusable, and the caller disposes of it.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly TimeSpan _timeout;
    private readonly RespReader _reader = new();
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RedisConnection(Stream stream, string address, TimeSpan timeout)
    {
        _stream = stream;
        Address = address;
        _timeout = timeout;
    }

    /// <summary>host:port, for messages.</summary>
    public string Address { get; }

    /// <summary>
    /// An exchange failed, and the connection is closed: a reply still on its way would otherwise be read as the
    /// answer to the next command.
    /// </summary>
    public bool Broken { get; private set; }

    /// <summary>
    /// Connects, and for TLS verifies the server's certificate against <paramref name="host"/> (the system's roots, or
    /// those <paramref name="tls"/> puts in place); fails with an exception whose message is the reason.
    /// </summary>
    public static async Task<RedisConnection> OpenAsync(string host, int port, bool useTls,
        Func<SslClientAuthenticationOptions, SslClientAuthenticationOptions>? tls, TimeSpan timeout, CancellationToken cancellation)
    {
        string address = (host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host) + ":" + port.ToString(CultureInfo.InvariantCulture);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        Stream? stream = null;
        RedisConnection? made = null;
        var handshake = new EndpointHandshake(host);
        try
        {
            await socket.ConnectAsync(IPAddress.TryParse(host, out IPAddress? ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port), deadline.Token)
                .ConfigureAwait(false);
            // Commands are whole writes; Nagle would only hold back the end of a large one for an acknowledgement.
            socket.NoDelay = true;
            stream = new NetworkStream(socket, ownsSocket: true);
            if (useTls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await handshake.AuthenticateAsync(ssl, tls, deadline.Token).ConfigureAwait(false);
            }

            made = new RedisConnection(stream, address, timeout);
            return made;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"{address}: no connection within {Seconds(timeout)}s");
        }
        catch (AuthenticationException e)
        {
            throw new AuthenticationException(address + ": " + handshake.Describe(e));
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            throw new IOException(address + ": " + EndpointClient.Describe(e), e);
        }
        finally
        {
            if (made is null)
            {
                if (stream is not null)
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                }

                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="commands"/> and reads <paramref name="replies"/> replies: the first error among them, or
    /// else the last reply (so <c>ASKING</c> and the command it prefixes are one exchange).
    /// </summary>
    public async Task<RespReply> ExchangeAsync(ReadOnlyMemory<byte> commands, int replies, CancellationToken cancellation)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(_timeout);
        bool answered = false;
        try
        {
            await _stream.WriteAsync(commands, deadline.Token).ConfigureAwait(false);
            RespReply answer = default;
            for (int i = 0; i < replies; i++)
            {
                RespReply reply = await ReadAsync(deadline.Token).ConfigureAwait(false);
                if (!answer.IsError)
                {
                    answer = reply;
                }
            }

            answered = true;
            return answer;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new TimeoutException($"{Address}: no answer within {Seconds(_timeout)}s");
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            throw new IOException(Address + ": " + EndpointClient.Describe(e), e);
        }
        finally
        {
            if (!answered)
            {
                Broken = true;
                await _stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();

    private async Task<RespReply> ReadAsync(CancellationToken cancellation)
    {
        while (true)
        {
            if (_end > _start)
            {
                RespParseStatus status = _reader.Read(_buffer.AsSpan(_start, _end - _start), out int consumed, out RespReply reply);
                _start += consumed;
                if (status == RespParseStatus.Complete)
                {
                    return reply;
                }

                if (status == RespParseStatus.Invalid)
                {
                    throw new InvalidDataException(_reader.Problem);
                }
            }

            // Keep the unread bytes (at most one element's) at the front, with room for more after them.
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
            if (_end == _buffer.Length)
            {
                // The reader's limits bound an element, so the buffer stops growing past the largest it allows.
                Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, RespReader.MaxBulk + RespReader.MaxLine + 2));
            }

            int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellation).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("the server closed the connection");
            }

            _end += read;
        }
    }

    private static string Seconds(TimeSpan timeout) => timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture);
}
