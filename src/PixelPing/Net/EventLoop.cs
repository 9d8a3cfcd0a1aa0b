using System.Collections.Concurrent;
using System.Net.Sockets;
using PixelPing.Http;
using PixelPing.Interop;

namespace PixelPing.Net;

/// <summary>
/// One thread, one epoll instance, one <c>SO_REUSEPORT</c> listening socket per address: it accepts its own
/// connections (the kernel spreads new connections over the loops' sockets), and runs them for their whole life,
/// reads, requests, answers, TLS handshakes and timeouts, without handing anything to another thread. Nothing here is
/// shared with other loops but the connection cap, taken once per connection, and, with sockets passed in by the
/// service manager, the listening sockets themselves (each loop watches them; the listener closes them).
/// </summary>
internal sealed class EventLoop
{
    private const int SweepPeriodMs = 500;
    private const int MaxEvents = 256;
    private const ulong WakeToken = ulong.MaxValue;
    private const ulong ListenerFlag = 1UL << 63;
    private const uint ConnectionEvents = Libc.EPOLLIN | Libc.EPOLLRDHUP | Libc.EPOLLET;

    private readonly ListenerContext _server;
    private readonly AcceptErrors _acceptErrors;
    private readonly StatsShard _stats;
    private readonly int[] _listeners;
    private readonly bool _shared;
    private readonly uint _listenerEvents;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly ConcurrentQueue<Action> _commands = new();
    // Orders a wake-up write against the closing of the eventfd when the loop ends, so that no write can reach a
    // descriptor number the process has since reused for something else.
    private readonly Lock _wakeLock = new();
    private readonly Thread _thread;
    private readonly Stack<int> _freeSlots = new();
    private Entry[] _entries = new Entry[64];
    private int _used;
    private bool _acceptStopped;
    private bool _exit;
    private bool _finished;
    private long _acceptPausedUntil;

    public EventLoop(ListenerContext server, AcceptErrors acceptErrors, int[] listeners, int index, bool shared)
    {
        _server = server;
        _acceptErrors = acceptErrors;
        _stats = server.Stats.NewShard();
        _listeners = listeners;
        _shared = shared;
        // Level-triggered: a listener with connections still queued is reported again next time round. A socket every
        // loop watches wakes one of them per new connection (EPOLLEXCLUSIVE), not all.
        _listenerEvents = shared ? Libc.EPOLLIN | Libc.EPOLLEXCLUSIVE : Libc.EPOLLIN;
        _epoll = Libc.epoll_create1(Libc.EPOLL_CLOEXEC);
        _wake = Libc.eventfd(0, Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);
        if (_epoll < 0 || _wake < 0)
        {
            string reason = Libc.Describe(Libc.Errno);
            foreach (int fd in (ReadOnlySpan<int>)[_epoll, _wake])
            {
                if (fd >= 0)
                {
                    Libc.close(fd);
                }
            }

            throw new IOException("cannot create an event loop: " + reason);
        }

        Libc.EpollControl(_epoll, Libc.EPOLL_CTL_ADD, _wake, Libc.EPOLLIN, WakeToken);
        WatchListeners(true);

        _thread = new Thread(Run) { IsBackground = true, Name = "event loop " + index };
    }

    private struct Entry
    {
        public LoopStream? Stream;
        public Connection? Connection;
        public uint Generation;
    }

    public void Start() => _thread.Start();

    /// <summary>Runs <paramref name="command"/> on the loop's thread; the task completes when it has run.</summary>
    public Task InvokeAsync(Action command)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _commands.Enqueue(() =>
        {
            try
            {
                command();
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        });
        bool finished;
        lock (_wakeLock)
        {
            finished = _finished;
            if (!finished)
            {
                ulong one = 1;
                Libc.write(_wake, ref one, sizeof(ulong));
            }
        }

        if (finished)
        {
            // The loop has ended (stopped, or failed): nothing of it is running any more, so run the command here.
            RunCommands();
        }

        return done.Task;
    }

    /// <summary>
    /// Closes the listening sockets (or, when every loop watches them, stops watching them): no new connections; open
    /// ones carry on.
    /// </summary>
    public void StopAccepting()
    {
        if (_acceptStopped)
        {
            return;
        }

        _acceptStopped = true;
        if (_shared)
        {
            WatchListeners(false);
            return;
        }

        foreach (int fd in _listeners)
        {
            Libc.close(fd);
        }
    }

    /// <summary>Closes connections past their deadline, and idle ones while the server drains.</summary>
    public void Sweep()
    {
        long now = Environment.TickCount64;
        bool draining = _server.Tracker.Draining;
        for (int i = 0; i < _used; i++)
        {
            Connection? connection = _entries[i].Connection;
            if (connection is not null && (connection.Deadline <= now || (draining && connection.IsIdle)))
            {
                try
                {
                    connection.Abort();
                }
                catch (Exception e)
                {
                    Failed(i, e);
                }
            }
        }
    }

    public void AbortAll()
    {
        for (int i = 0; i < _used; i++)
        {
            _entries[i].Connection?.Abort();
        }
    }

    /// <summary>Stops the loop: listeners and connections closed, then the thread ends.</summary>
    public async Task StopAsync()
    {
        await InvokeAsync(() => _exit = true).ConfigureAwait(false);
        if (_thread.IsAlive)
        {
            _thread.Join();
        }
    }

    internal void CheckThread()
    {
        if (Environment.CurrentManagedThreadId != _thread.ManagedThreadId)
        {
            throw new InvalidOperationException("a connection's stream was used off its event loop");
        }
    }

    /// <summary>Adds or drops EPOLLOUT for a stream with a short write waiting.</summary>
    internal void WatchWritable(LoopStream stream, bool watch)
    {
        int slot = stream.Slot;
        Libc.EpollControl(_epoll, Libc.EPOLL_CTL_MOD, stream.Fd, watch ? ConnectionEvents | Libc.EPOLLOUT : ConnectionEvents, Token(slot));
    }

    /// <summary>Forgets a closed stream (its descriptor leaves epoll when it is closed) and frees its cap slot.</summary>
    internal void Remove(LoopStream stream)
    {
        int slot = stream.Slot;
        if (slot < 0 || !ReferenceEquals(_entries[slot].Stream, stream))
        {
            return;
        }

        _entries[slot].Stream = null;
        _entries[slot].Connection = null;
        _entries[slot].Generation = (_entries[slot].Generation + 1) & 0x7FFF_FFFF;
        _freeSlots.Push(slot);
        stream.Slot = -1;
        _server.Tracker.Remove();
    }

    private ulong Token(int slot) => (uint)slot | ((ulong)_entries[slot].Generation << 32);

    private void Run()
    {
        // Nothing on a loop uses AsyncLocal state: without a context to flow, each completed read resumes its
        // connection by calling it directly instead of through ExecutionContext.Run (measurable per request).
        ExecutionContext.SuppressFlow();
        byte[] events = new byte[MaxEvents * Libc.EpollEventSize];
        long nextSweep = Environment.TickCount64 + SweepPeriodMs;
        try
        {
            while (!_exit)
            {
                long now = Environment.TickCount64;
                long wakeAt = _acceptPausedUntil > now ? Math.Min(nextSweep, _acceptPausedUntil) : nextSweep;
                int n = Libc.epoll_wait(_epoll, events, MaxEvents, (int)Math.Max(0, wakeAt - now));
                if (n < 0)
                {
                    if (Libc.Errno == Libc.EINTR)
                    {
                        continue;
                    }

                    throw new IOException("epoll_wait failed: " + Libc.Describe(Libc.Errno));
                }

                for (int i = 0; i < n; i++)
                {
                    ulong data = Libc.EventData(events, i);
                    try
                    {
                        Dispatch(data, Libc.EventMask(events, i));
                    }
                    catch (Exception e)
                    {
                        Failed(SlotOf(data), e);
                    }
                }

                now = Environment.TickCount64;
                if (_acceptPausedUntil != 0 && now >= _acceptPausedUntil)
                {
                    ResumeAccepting();
                }

                if (now >= nextSweep)
                {
                    Sweep();
                    nextSweep = now + SweepPeriodMs;
                }
            }
        }
        catch (Exception e)
        {
            // Not expected (an event's error is caught above, and epoll_wait fails only on a bad descriptor). Logged,
            // and the loop's connections are closed rather than left hanging.
            Log.ErrorNoWait($"--- event loop failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            StopAccepting();
            AbortAll();
            Libc.close(_epoll);
            lock (_wakeLock)
            {
                _finished = true;
                Libc.close(_wake);
            }

            RunCommands();
        }
    }

    private void Dispatch(ulong data, uint mask)
    {
        if (data == WakeToken)
        {
            ulong count = 0;
            Libc.read(_wake, ref count, sizeof(ulong));
            RunCommands();
        }
        else if ((data & ListenerFlag) != 0)
        {
            int index = (int)(uint)data;
            if (!_acceptStopped && _acceptPausedUntil == 0 && Accept(_listeners[index]) && _shared)
            {
                GoToBackOfQueue(index);
            }
        }
        else if (SlotOf(data) is >= 0 and int slot)
        {
            _entries[slot].Stream!.OnEvents(mask);
        }
    }

    /// <summary>The connection an event's token names, or -1: the wake-up, a listener, or a connection closed since.</summary>
    private int SlotOf(ulong data)
    {
        if (data == WakeToken || (data & ListenerFlag) != 0)
        {
            return -1;
        }

        int slot = (int)(uint)data;
        return _entries[slot].Stream is not null && _entries[slot].Generation == (uint)(data >> 32) ? slot : -1;
    }

    /// <summary>
    /// An exception from handling one event (a bug: a connection's own errors are caught in its own loop) must not
    /// stop this loop and every other connection on it. The connection the event was for, if any
    /// (<paramref name="slot"/> ≥ 0), is closed; the error is counted and logged at most once a second.
    /// </summary>
    private void Failed(int slot, Exception error)
    {
        StatsShard.Increment(ref _stats.Errors);
        LoopStream? stream = slot >= 0 ? _entries[slot].Stream : null;
        if (_server.Errors.Report(stream?.Peer, error, Environment.TickCount64) is { } line)
        {
            Log.ErrorNoWait(line);
        }

        if (stream is null)
        {
            return;
        }

        try
        {
            // Ends the connection's waiting read or write, so that it unwinds and returns its buffers.
            stream.Abort();
        }
        catch (Exception)
        {
            // It may be what threw in the first place; the socket is closed below all the same.
        }

        stream.Dispose();
    }

    private void RunCommands()
    {
        while (_commands.TryDequeue(out Action? command))
        {
            command();
        }
    }

    /// <summary>Accepts what the listener has queued, up to a bound; true when it took a connection.</summary>
    private bool Accept(int listener)
    {
        Span<byte> address = stackalloc byte[28];
        bool accepted = false;
        // Bounded, so that a flood of new connections cannot starve the open ones; the listener is level-triggered.
        // A socket every loop watches: one at a time, so that connections queued together (a client opening many at
        // once) are spread over the loops instead of all going to the first one awake.
        int batch = _shared ? 1 : 64;
        for (int i = 0; i < batch; i++)
        {
            int length = address.Length;
            int fd = Libc.accept4(listener, address, ref length, Libc.SOCK_NONBLOCK | Libc.SOCK_CLOEXEC);
            if (fd < 0)
            {
                int errno = Libc.Errno;
                if (errno == Libc.EAGAIN)
                {
                    return accepted;
                }

                // Tiered: a client that reset before we took its connection is not worth a line; a shortage of
                // descriptors or memory is, at most once a second, and pauses accepting (the connection waits in the
                // kernel's queue) instead of spinning on a listener that stays readable.
                SocketError error = errno switch
                {
                    Libc.EMFILE or Libc.ENFILE => SocketError.TooManyOpenSockets,
                    Libc.ENOBUFS or Libc.ENOMEM => SocketError.NoBufferSpaceAvailable,
                    Libc.ECONNABORTED or Libc.EPROTO => SocketError.ConnectionAborted,
                    Libc.EINTR => SocketError.Interrupted,
                    _ => SocketError.SocketError,
                };
                if (error == SocketError.Interrupted)
                {
                    continue;
                }

                if (_acceptErrors.Report(error, Libc.Describe(errno), Environment.TickCount64) is { } line)
                {
                    Log.ErrorNoWait(line);
                }

                TimeSpan backoff = AcceptErrors.Backoff(error);
                if (backoff > TimeSpan.Zero)
                {
                    PauseAccepting((long)backoff.TotalMilliseconds);
                    return accepted;
                }

                continue;
            }

            accepted = true;
            StatsShard.Increment(ref _stats.Accepted);
            if (_acceptStopped || !TakePlace())
            {
                // Over the connection cap: closed at once, and counted.
                StatsShard.Increment(ref _stats.Refused);
                Libc.close(fd);
                continue;
            }

            // Answers are whole responses written at once; Nagle would only hold back the last one of a batch.
            Libc.SetOption(fd, Libc.IPPROTO_TCP, Libc.TCP_NODELAY, 1);
            var stream = new LoopStream(this, fd, PeerAddress.FromSocketAddress(address[..length]));
            var connection = new Connection(stream, _server, _stats);
            int slot = TakeSlot();
            _entries[slot].Stream = stream;
            _entries[slot].Connection = connection;
            stream.Slot = slot;
            if (Libc.EpollControl(_epoll, Libc.EPOLL_CTL_ADD, fd, ConnectionEvents, Token(slot)) < 0)
            {
                // No memory for the watch (or the user's epoll watch limit reached): the connection could never be
                // woken, so it is closed now rather than left to its timeout.
                Failed(slot, new IOException("cannot watch the connection: " + Libc.Describe(Libc.Errno)));
                StatsShard.Increment(ref _stats.Closed);
                continue;
            }

            connection.Start();
        }

        return accepted;
    }

    /// <summary>
    /// A place under the connection cap for a new connection. On a full listener that evicts, the connection of this
    /// loop that has waited longest for a whole request head is closed to make room: its waiting read fails at once,
    /// and the connection unwinds and gives its place back before this returns. Only this loop's connections can be
    /// closed from here; the status listener runs one loop, so there that is every connection.
    /// </summary>
    private bool TakePlace()
    {
        if (_server.Tracker.TryAdd())
        {
            return true;
        }

        if (!_server.Limits.EvictWhenFull)
        {
            return false;
        }

        int oldest = -1;
        long since = long.MaxValue;
        for (int i = 0; i < _used; i++)
        {
            if (_entries[i].Connection is { } connection && connection.WaitingForHeadSince < since)
            {
                since = connection.WaitingForHeadSince;
                oldest = i;
            }
        }

        if (oldest < 0)
        {
            return false;
        }

        try
        {
            _entries[oldest].Connection!.Abort();
        }
        catch (Exception e)
        {
            Failed(oldest, e);
        }

        return _server.Tracker.TryAdd();
    }

    private int TakeSlot()
    {
        if (_freeSlots.TryPop(out int slot))
        {
            return slot;
        }

        if (_used == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        return _used++;
    }

    private void PauseAccepting(long milliseconds)
    {
        _acceptPausedUntil = Environment.TickCount64 + milliseconds;
        WatchListeners(false);
    }

    private void ResumeAccepting()
    {
        _acceptPausedUntil = 0;
        if (!_acceptStopped)
        {
            WatchListeners(true);
        }
    }

    /// <summary>
    /// After taking a connection from a socket every loop watches: the kernel wakes the first loop waiting in the
    /// socket's wait queue (EPOLLEXCLUSIVE), and a watch added again goes to the end of that queue, so the next
    /// connection wakes another loop. Otherwise whichever loop is idle first takes nearly every connection.
    /// </summary>
    private void GoToBackOfQueue(int i)
    {
        if (_acceptPausedUntil == 0)
        {
            Libc.EpollControl(_epoll, Libc.EPOLL_CTL_DEL, _listeners[i], 0, 0);
            Libc.EpollControl(_epoll, Libc.EPOLL_CTL_ADD, _listeners[i], _listenerEvents, ListenerFlag | (uint)i);
        }
    }

    /// <summary>
    /// Adds the listening sockets to this loop's epoll, or removes them. By delete and add, never by changing the
    /// watched events: epoll_ctl refuses EPOLL_CTL_MOD on an EPOLLEXCLUSIVE watch (EINVAL).
    /// </summary>
    private void WatchListeners(bool watch)
    {
        for (int i = 0; i < _listeners.Length; i++)
        {
            Libc.EpollControl(_epoll, watch ? Libc.EPOLL_CTL_ADD : Libc.EPOLL_CTL_DEL, _listeners[i], _listenerEvents, ListenerFlag | (uint)i);
        }
    }
}
