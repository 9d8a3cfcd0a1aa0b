using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using PixelPing.Http;
using PixelPing.Interop;

namespace PixelPing.Net;

/// <summary>
/// A nonblocking TCP socket as a <see cref="Stream"/> whose reads and writes its <see cref="EventLoop"/> completes:
/// an operation that can finish now finishes synchronously (no allocation, no hop); one that must wait is a
/// <see cref="ValueTask"/> the loop completes on its own thread when epoll reports readiness, running the
/// continuation inline. So a connection's whole life, TLS handshake included (<c>SslStream</c> over this stream),
/// stays on the core that accepted it. Every member is called on the loop's thread only.
/// </summary>
internal sealed class LoopStream : Stream, IValueTaskSource<int>, IValueTaskSource
{
    private readonly EventLoop _loop;
    private readonly int _fd;
    private ManualResetValueTaskSourceCore<int> _read;
    private ManualResetValueTaskSourceCore<bool> _write;
    private Memory<byte> _readBuffer;
    private ReadOnlyMemory<byte> _unwritten;
    private bool _reading;
    private bool _writing;

    // Edge-triggered epoll reports new bytes once: until a read comes back short or finds nothing, the socket may
    // still hold some, so the next read tries the socket before waiting.
    private bool _readable = true;
    private bool _ended;
    private bool _aborted;
    private bool _closed;

    public LoopStream(EventLoop loop, int fd, PeerAddress peer)
    {
        _loop = loop;
        _fd = fd;
        Peer = peer;
    }

    public int Fd => _fd;

    /// <summary>The stream's entry in its loop's table; -1 once closed.</summary>
    internal int Slot { get; set; } = -1;

    public PeerAddress Peer { get; }

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _loop.CheckThread();
        if (_aborted || _closed)
        {
            return ValueTask.FromException<int>(Aborted());
        }

        if (_readable)
        {
            if (buffer.IsEmpty)
            {
                // A zero-byte read (SslStream waits for data that way without holding a buffer): bytes may be there.
                return new ValueTask<int>(0);
            }

            nint n = Libc.recv(_fd, buffer.Span, buffer.Length, 0);
            if (n >= 0)
            {
                _readable = _ended || (n == buffer.Length && n > 0);
                return new ValueTask<int>((int)n);
            }

            int errno = Libc.Errno;
            if (errno != Libc.EAGAIN && errno != Libc.EINTR)
            {
                return ValueTask.FromException<int>(Failed(errno));
            }

            _readable = false;
        }

        _read.Reset();
        _readBuffer = buffer;
        _reading = true;
        return new ValueTask<int>(this, _read.Version);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _loop.CheckThread();
        if (_aborted || _closed)
        {
            return ValueTask.FromException(Aborted());
        }

        int errno = Send(ref buffer);
        if (errno != 0)
        {
            return ValueTask.FromException(Failed(errno));
        }

        if (buffer.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        // A short write: the socket's send buffer is full (a slow or stalled reader). Only now is EPOLLOUT asked
        // for, and it is dropped again once the rest is out.
        _write.Reset();
        _unwritten = buffer;
        _writing = true;
        _loop.WatchWritable(this, true);
        return new ValueTask(this, _write.Version);
    }

    /// <summary>Readiness from epoll: finishes the waiting write and then the waiting read, as far as they go.</summary>
    internal void OnEvents(uint events)
    {
        if ((events & (Libc.EPOLLIN | Libc.EPOLLRDHUP | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0)
        {
            _readable = true;
        }

        if ((events & (Libc.EPOLLRDHUP | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0)
        {
            // The peer's FIN (or an error) is reported once, possibly together with its last bytes: a short read of
            // those bytes must not be taken for "nothing more to read", or the end would never be seen.
            _ended = true;
        }

        if (_writing && (events & (Libc.EPOLLOUT | Libc.EPOLLHUP | Libc.EPOLLERR)) != 0)
        {
            int errno = Send(ref _unwritten);
            if (errno != 0 || _unwritten.IsEmpty)
            {
                _writing = false;
                _unwritten = default;
                if (!_closed)
                {
                    _loop.WatchWritable(this, false);
                }

                // The continuation runs here, inline: it may read, write again, or close this stream.
                if (errno != 0)
                {
                    _write.SetException(Failed(errno));
                }
                else
                {
                    _write.SetResult(true);
                }
            }
        }

        if (_reading && _readable && !_closed)
        {
            if (_readBuffer.IsEmpty)
            {
                _reading = false;
                _read.SetResult(0);
                return;
            }

            nint n = Libc.recv(_fd, _readBuffer.Span, _readBuffer.Length, 0);
            if (n < 0 && Libc.Errno is Libc.EAGAIN or Libc.EINTR)
            {
                _readable = false;
                return;
            }

            int errno = n < 0 ? Libc.Errno : 0;
            _readable = _ended || (n == _readBuffer.Length && n > 0);
            _reading = false;
            _readBuffer = default;
            if (n < 0)
            {
                _read.SetException(Failed(errno));
            }
            else
            {
                _read.SetResult((int)n);
            }
        }
    }

    /// <summary>
    /// Ends a waiting read or write with an error, so the connection's loop unwinds and closes (the sweeper's
    /// timeouts, shutdown). A stream doing neither is closed by its owner at its next operation.
    /// </summary>
    internal void Abort()
    {
        if (_aborted || _closed)
        {
            return;
        }

        _aborted = true;
        if (_writing)
        {
            _writing = false;
            _unwritten = default;
            _write.SetException(Aborted());
        }

        if (_reading)
        {
            _reading = false;
            _readBuffer = default;
            _read.SetException(Aborted());
        }
    }

    /// <summary>Sends FIN: the client sees the end of the answers while the server may still read (lingering close).</summary>
    public void ShutdownSend() => Libc.shutdown(_fd, Libc.SHUT_WR);

    protected override void Dispose(bool disposing)
    {
        if (!_closed)
        {
            _closed = true;
            _loop.Remove(this);
            Libc.close(_fd);
        }

        base.Dispose(disposing);
    }

    // Sends what it can; returns 0 (what is left stays in buffer) or the errno of a real failure.
    private int Send(ref ReadOnlyMemory<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            nint n = Libc.send(_fd, buffer.Span, buffer.Length, Libc.MSG_NOSIGNAL);
            if (n >= 0)
            {
                buffer = buffer[(int)n..];
                continue;
            }

            int errno = Libc.Errno;
            if (errno == Libc.EINTR)
            {
                continue;
            }

            return errno == Libc.EAGAIN ? 0 : errno;
        }

        return 0;
    }

    private static IOException Aborted() => new("the connection was closed by the server");

    private static IOException Failed(int errno) => new(Libc.Describe(errno));

    int IValueTaskSource<int>.GetResult(short token) => _read.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _read.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _read.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.GetResult(short token) => _write.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _write.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _write.OnCompleted(continuation, state, token, flags);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    // Blocking calls would stall every connection of the loop: this stream is asynchronous only.
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
