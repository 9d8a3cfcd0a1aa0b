using System.Collections.Concurrent;

namespace PixelPing.Tests.Support;

/// <summary>
/// Background clients that keep sending pixel requests over keep-alive connections (or a new connection for each
/// request) until stopped, counting per key the hits that were answered with 200: the number the endpoint must end
/// up with.
/// </summary>
public sealed class Hitter : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, long> _answered = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _clients;
    private readonly bool _connectionPerRequest;
    private long _total;
    private long _failed;
    private long _refused;

    /// <param name="port">Where to send.</param>
    /// <param name="keys">Query values (percent-encoded as sent) and the decoded key each one counts as.</param>
    /// <param name="clients">Concurrent connections.</param>
    /// <param name="connectionPerRequest">Close each connection after its one answer and open a new one.</param>
    public Hitter(int port, IReadOnlyList<(string Query, string Key)> keys, int clients = 2, bool connectionPerRequest = false)
    {
        _connectionPerRequest = connectionPerRequest;
        _clients = Enumerable.Range(0, clients).Select(c => Dedicated.Run(() => Run(port, keys, c))).ToArray();
    }

    public long Total => Interlocked.Read(ref _total);

    /// <summary>Requests that got no 200 (a connection error through a proxy, say); they must not be counted anywhere.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Of <see cref="Failed"/>, the connections refused: nothing listened on the port.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public IReadOnlyDictionary<string, long> Answered => new Dictionary<string, long>(_answered);

    /// <summary>Waits until at least <paramref name="more"/> further hits have been answered.</summary>
    public async Task WaitForMoreAsync(long more, TimeSpan timeout)
    {
        long target = Total + more;
        DateTime deadline = DateTime.UtcNow + timeout;
        while (Total < target)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {Total} hits answered, waiting for {target}");
            await Task.Delay(10);
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_clients);
    }

    private void Run(int port, IReadOnlyList<(string Query, string Key)> keys, int client)
    {
        int next = client;
        RawHttpClient? connection = null;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                (string query, string key) = keys[next++ % keys.Count];
                try
                {
                    connection ??= new RawHttpClient(port);
                    if (connection.Request("/pixel.gif?key=" + query).Status == 200)
                    {
                        _answered.AddOrUpdate(key, 1, (_, n) => n + 1);
                        Interlocked.Increment(ref _total);
                    }
                    else
                    {
                        Interlocked.Increment(ref _failed);
                    }

                    if (_connectionPerRequest)
                    {
                        connection.Dispose();
                        connection = null;
                    }
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    // No answer: not counted as answered. Start a new connection.
                    Interlocked.Increment(ref _failed);
                    if (e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionRefused })
                    {
                        Interlocked.Increment(ref _refused);
                    }

                    connection?.Dispose();
                    connection = null;
                }
            }
        }
        finally
        {
            connection?.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}
