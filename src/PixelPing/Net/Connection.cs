using System.Buffers;
using System.Diagnostics;
using System.Net.Security;
using PixelPing.Http;

namespace PixelPing.Net;

/// <summary>
/// One client connection: read, parse every complete request in the buffer, answer them all with one write,
/// repeat. Keep-alive and pipelining fall out of that loop; any parse error answers its status and closes, so the
/// connection can never fall out of step with the client (RFC 9112 §9.3.2: no recovery after a framing error).
/// The loop runs over a <see cref="Stream"/>: the socket's own, or on an HTTPS port the TLS stream on top of it, so
/// every limit and timeout holds the same over both.
/// </summary>
internal sealed class Connection
{
    // A typical request head is 100–500 bytes; the buffer grows only for the rare large head, up to the limits.
    private const int InitialBufferSize = 2048;

    private readonly LoopStream _stream;
    private readonly ListenerContext _context;
    private readonly StatsShard _stats;
    private long _deadline;
    private bool _idle = true;

    // When the connection began waiting for the request head it now reads (its opening, or its last answer), and
    // whether it is in that wait: then it holds no request, and a full listener that evicts may close it.
    private long _headWaitStart = Stopwatch.GetTimestamp();
    private bool _waitingForHead = true;

    // One per connection: it resumes where the last read left the request head instead of starting over.
    private RequestParser _parser;

    public Connection(LoopStream stream, ListenerContext context, StatsShard stats)
    {
        _stream = stream;
        _context = context;
        _stats = stats;
        // Nothing has arrived yet: under TCP_DEFER_ACCEPT a client that connects and stays silent is handed over
        // once the kernel's defer period ends, and must not then hold a slot for the whole idle timeout.
        _deadline = Environment.TickCount64 + context.Limits.HeaderTimeoutMs;
    }

    /// <summary>When the loop's sweep closes this connection (<see cref="Environment.TickCount64"/> milliseconds).</summary>
    internal long Deadline => _deadline;

    /// <summary>Waiting for the first byte of a new request, with nothing half-read.</summary>
    internal bool IsIdle => _idle;

    /// <summary>
    /// Since when (<see cref="Stopwatch.GetTimestamp"/>) the connection has waited for a whole request head, a TLS
    /// handshake included; <see cref="long.MaxValue"/> while it holds a request (reading its body, writing its answer).
    /// </summary>
    internal long WaitingForHeadSince => _waitingForHead ? _headWaitStart : long.MaxValue;

    /// <summary>
    /// Closes the connection (its deadline passed, or shutdown). The loop calls it between events, so the connection
    /// is always waiting then, never halfway through a batch of requests: a request that arrived is either dropped
    /// whole (nothing counted, no answer) or counted and answered.
    /// </summary>
    internal void Abort() => _stream.Abort();

    /// <summary>Starts the connection on its loop's thread; it runs there until its first wait.</summary>
    public void Start() => _ = RunAsync();

    /// <summary>
    /// After an error answer the client may still be sending (the body that earned a 413, the rest of a bad head).
    /// Closing with unread bytes makes the kernel send a reset, which can destroy the answer before the client reads
    /// it; so, like nginx's lingering close, stop sending, then read and drop what comes for up to two seconds
    /// (the sweep cuts the wait) or 64 KiB.
    /// </summary>
    private async Task LingerAsync(Stream stream, byte[] scratch)
    {
        _stream.ShutdownSend();
        _deadline = Environment.TickCount64 + 2000;
        for (int total = 0; total < 64 * 1024;)
        {
            int read = await stream.ReadAsync(scratch).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            total += read;
        }
    }

    public async Task RunAsync()
    {
        ListenerLimits limits = _context.Limits;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
        byte[]? output = null;
        Stream? stream = null;
        try
        {
            stream = _stream;
            if (_context.Tls is { } tls)
            {
                // The handshake has the header timeout as its deadline, enforced by the loop's sweep closing the
                // socket: a client that opens TLS and stalls holds its slot no longer than one that stalls in a head.
                _deadline = Environment.TickCount64 + limits.HeaderTimeoutMs;
                stream = await tls.AuthenticateAsync(stream).ConfigureAwait(false);
                if (stream is null)
                {
                    StatsShard.Increment(ref _stats.FailedHandshakes);
                    return;
                }

                StatsShard.Increment(ref _stats.Handshakes);
            }

            int start = 0;
            int end = 0;
            long skip = 0;
            bool answered = false;
            while (true)
            {
                if (start == end)
                {
                    start = end = 0;
                    _idle = skip == 0;
                    // Keep-alive waits up to the idle timeout, but only after an answer: the first request of a
                    // connection (after the TLS handshake, if any) must begin within the header timeout.
                    bool keepAliveWait = skip == 0 && answered;
                    _deadline = Environment.TickCount64 + (keepAliveWait ? limits.IdleTimeoutMs : limits.HeaderTimeoutMs);
                }
                else if (end == buffer.Length)
                {
                    buffer = MakeRoom(buffer, ref start, ref end, limits.MaxHeadBytes);
                }

                if (_context.Tracker.Draining && _idle)
                {
                    return;
                }

                _waitingForHead = skip == 0;
                int read = await stream.ReadAsync(buffer.AsMemory(end)).ConfigureAwait(false);
                _waitingForHead = false;
                if (read == 0)
                {
                    return;
                }

                if (_idle)
                {
                    // The header timeout runs from the first byte of a request and is not extended by later bytes,
                    // so a client that trickles a byte at a time (slowloris) is cut off all the same.
                    _idle = false;
                    _deadline = Environment.TickCount64 + limits.HeaderTimeoutMs;
                }

                end += read;
                Outcome outcome = Process(buffer, ref start, end, ref skip, ref output, out int outputLength);
                if (outcome.Answered)
                {
                    _headWaitStart = Stopwatch.GetTimestamp();
                }

                if (outcome.Single is not null || outputLength > 0)
                {
                    // A client that stops reading cannot hold the connection forever: the write may be cut off at
                    // the idle timeout (its hits were counted; the client chose not to take the answers).
                    _deadline = Environment.TickCount64 + limits.IdleTimeoutMs;
                    await (outcome.Single is not null
                        ? stream.WriteAsync(outcome.Single)
                        : stream.WriteAsync(output.AsMemory(0, outputLength))).ConfigureAwait(false);
                }

                if (outcome.Close)
                {
                    if (outcome.Error && stream is not SslStream)
                    {
                        await LingerAsync(stream, buffer).ConfigureAwait(false);
                    }

                    if (stream is SslStream ssl)
                    {
                        // close_notify: the client learns the response ended here and was not cut off (RFC 8446 §6.1).
                        await ssl.ShutdownAsync().ConfigureAwait(false);
                    }

                    return;
                }

                answered |= outcome.Answered;
                if (outcome.Answered && start < end)
                {
                    // A partial next request began in this read: its header timeout starts now.
                    _deadline = Environment.TickCount64 + limits.HeaderTimeoutMs;
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The peer went away, or the loop closed the connection (timeout, shutdown): nothing to answer.
        }
        catch (Exception e)
        {
            // A bug (in the handler, say): this connection closes, the loop and its other connections carry on.
            StatsShard.Increment(ref _stats.Errors);
            if (_context.Errors.Report(_stream.Peer, e, Environment.TickCount64) is { } line)
            {
                Log.ErrorNoWait(line);
            }
        }
        finally
        {
            StatsShard.Increment(ref _stats.Closed);
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            _stream.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
            if (output is not null)
            {
                ArrayPool<byte>.Shared.Return(output);
            }
        }
    }

    /// <summary>
    /// Answers every complete request in <c>buffer[start..end]</c>. One answer is returned as its precomposed array
    /// (no copy); several pipelined answers are gathered into <paramref name="output"/> and sent with one write.
    /// </summary>
    private Outcome Process(byte[] buffer, ref int start, int end, ref long skip, ref byte[]? output, out int outputLength)
    {
        Responses responses = Responses.Current;
        ListenerLimits limits = _context.Limits;
        bool draining = _context.Tracker.Draining;
        byte[]? single = null;
        outputLength = 0;
        bool close = false;
        bool error = false;
        while (start < end)
        {
            if (skip > 0)
            {
                // A small request body is read and dropped (the parser refused large ones with 413).
                int drop = (int)Math.Min(skip, end - start);
                start += drop;
                skip -= drop;
                continue;
            }

            ReadOnlySpan<byte> input = buffer.AsSpan(start, end - start);
            ParsedRequest request = _parser.Parse(input, limits.Http);
            byte[] answer;
            if (request.Status == ParseStatus.Incomplete)
            {
                if (start == 0 && end == buffer.Length && buffer.Length >= limits.MaxHeadBytes)
                {
                    // Only blank lines or similar filler could leave a full buffer undecided: refuse it.
                    answer = responses.HeadersTooLarge;
                    close = error = true;
                }
                else
                {
                    break;
                }
            }
            else if (request.Status == ParseStatus.Error)
            {
                answer = responses.For(request.Rejection);
                close = error = true;
            }
            else
            {
                StatsShard.Increment(ref _stats.Requests);
                bool keepAlive = request.KeepAlive && !draining;
                answer = _context.Handler.Handle(new HttpRequest(input, in request, _stream.Peer, keepAlive), _stats);
                start += request.HeadLength;
                skip = request.ContentLength;
                close = !keepAlive;
            }

            _stats.CountResponse(answer);
            if (single is null && outputLength == 0)
            {
                single = answer;
            }
            else
            {
                if (single is not null)
                {
                    Append(ref output, ref outputLength, single);
                    single = null;
                }

                Append(ref output, ref outputLength, answer);
            }

            if (close)
            {
                break;
            }
        }

        return new Outcome(single, close, error, single is not null || outputLength > 0);
    }

    private static void Append(ref byte[]? output, ref int length, byte[] bytes)
    {
        if (output is null || output.Length - length < bytes.Length)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(4096, (length + bytes.Length) * 2));
            if (output is not null)
            {
                output.AsSpan(0, length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(output);
            }

            output = bigger;
        }

        bytes.CopyTo(output, length);
        length += bytes.Length;
    }

    /// <summary>Moves a partial request to the front of the buffer, or grows the buffer up to the head limit.</summary>
    private static byte[] MakeRoom(byte[] buffer, ref int start, ref int end, int maxHeadBytes)
    {
        if (start > 0)
        {
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
            return buffer;
        }

        // The parser refuses a head over the limits before the buffer passes them; the slack holds the bytes of the
        // read that proved it.
        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxHeadBytes + 1024));
        if (bigger.Length <= buffer.Length)
        {
            ArrayPool<byte>.Shared.Return(bigger);
            return buffer;
        }

        buffer.AsSpan(0, end).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        return bigger;
    }

    private readonly record struct Outcome(byte[]? Single, bool Close, bool Error, bool Answered);
}
