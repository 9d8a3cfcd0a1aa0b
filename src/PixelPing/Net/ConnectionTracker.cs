namespace PixelPing.Net;

/// <summary>
/// The open connections, in a fixed table the size of the connection cap: taking a slot is the cap check, and one
/// timer walks the table every half second (the listener's period) to close connections whose header-read or idle deadline has passed. One shared
/// sweep costs nothing per request, where a timer per connection would cost an allocation and a timer-queue entry.
/// </summary>
internal sealed class ConnectionTracker : IDisposable
{
    private readonly Connection?[] _slots;
    private readonly int[] _free;
    private readonly Lock _lock = new();
    private int _freeCount;
    private int _open;
    private Timer? _sweeper;
    private volatile bool _draining;

    public ConnectionTracker(int capacity)
    {
        _slots = new Connection?[capacity];
        _free = new int[capacity];
        for (int i = 0; i < capacity; i++)
        {
            _free[i] = capacity - 1 - i;
        }

        _freeCount = capacity;
    }

    public int Open => Volatile.Read(ref _open);

    /// <summary>True once shutdown began: connections finish the request in hand and close.</summary>
    public bool Draining => _draining;

    public void StartSweeping(TimeSpan period) =>
        _sweeper ??= new Timer(static state => ((ConnectionTracker)state!).Sweep(), this, period, period);

    /// <summary>Takes a slot for a new connection; false when the connection cap is reached.</summary>
    public bool TryAdd(Connection connection)
    {
        lock (_lock)
        {
            if (_freeCount == 0)
            {
                return false;
            }

            int slot = _free[--_freeCount];
            _slots[slot] = connection;
            connection.Slot = slot;
            _open++;
            return true;
        }
    }

    public void Remove(Connection connection)
    {
        lock (_lock)
        {
            int slot = connection.Slot;
            if (slot < 0 || !ReferenceEquals(_slots[slot], connection))
            {
                return;
            }

            _slots[slot] = null;
            _free[_freeCount++] = slot;
            connection.Slot = -1;
            _open--;
        }
    }

    /// <summary>Stops keep-alive: idle connections close now, busy ones after their current request.</summary>
    public void BeginDrain()
    {
        _draining = true;
        Sweep();
    }

    /// <summary>Waits until every connection has closed or the deadline passes, then closes what is left.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        BeginDrain();
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Open > 0 && Environment.TickCount64 < deadline)
        {
            await Task.Delay(20).ConfigureAwait(false);
            Sweep();
        }

        CloseAll();
    }

    public void CloseAll()
    {
        foreach (Connection? connection in _slots)
        {
            connection?.Abort();
        }
    }

    internal void Sweep()
    {
        long now = Environment.TickCount64;
        bool draining = _draining;
        // Reads the table without the lock: a reference read is atomic, and a connection that closes meanwhile
        // only gets a second, harmless Abort.
        foreach (Connection? connection in _slots)
        {
            if (connection is not null && (connection.Deadline <= now || (draining && connection.IsIdle)))
            {
                connection.TryAbort();
            }
        }
    }

    public void Dispose() => _sweeper?.Dispose();
}
