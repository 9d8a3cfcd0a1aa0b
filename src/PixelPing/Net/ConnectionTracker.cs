namespace PixelPing.Net;

/// <summary>
/// The connection cap of one listener, shared by its event loops: taking a place is the cap check (one atomic add
/// per connection, none per request), and whether the server is draining for shutdown.
/// </summary>
internal sealed class ConnectionTracker(int capacity)
{
    private int _open;
    private volatile bool _draining;

    public int Open => Volatile.Read(ref _open);

    /// <summary>True once shutdown began: connections finish the request in hand and close.</summary>
    public bool Draining => _draining;

    /// <summary>Takes a place for a new connection; false when the connection cap is reached.</summary>
    public bool TryAdd()
    {
        if (Interlocked.Increment(ref _open) <= capacity)
        {
            return true;
        }

        Interlocked.Decrement(ref _open);
        return false;
    }

    public void Remove() => Interlocked.Decrement(ref _open);

    /// <summary>Stops keep-alive: from now on each connection closes after the request in hand.</summary>
    public void BeginDrain() => _draining = true;
}
