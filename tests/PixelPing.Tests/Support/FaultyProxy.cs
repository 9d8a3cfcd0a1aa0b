using System.Net;
using System.Net.Sockets;

namespace PixelPing.Tests.Support;

/// <summary>
/// A TCP proxy on 127.0.0.1 to a server's port that passes bytes both ways, and on request either drops the server's
/// next answer and closes both sides (the server did the work, and the client never hears of it) or holds the server's
/// answers back until released (they arrive late); either at once, or from the client's next message that holds some
/// bytes (a PostgreSQL COMMIT, say).
/// </summary>
public sealed class FaultyProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private int _armed;
    private int _cuts;
    private TaskCompletionSource? _hold;
    private Tuple<byte[], bool>? _trigger;

    public FaultyProxy(int target)
    {
        _target = target;
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>How many answers were dropped.</summary>
    public int Cuts => Volatile.Read(ref _cuts);

    /// <summary>The next bytes the server sends on any connection are dropped, and that connection closed.</summary>
    public void CutNextAnswer() => Volatile.Write(ref _armed, 1);

    /// <summary>The server's answers wait in the proxy until <see cref="ReleaseAnswers"/>.</summary>
    public void HoldAnswers() => Volatile.Write(ref _hold, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public void ReleaseAnswers() => Interlocked.Exchange(ref _hold, null)?.SetResult();

    /// <summary>The answer to the client's next message holding <paramref name="marker"/> is dropped, and that connection closed.</summary>
    public void CutAnswerTo(byte[] marker) => Volatile.Write(ref _trigger, Tuple.Create(marker, true));

    /// <summary>From the client's next message holding <paramref name="marker"/> on, answers wait until <see cref="ReleaseAnswers"/>.</summary>
    public void HoldAnswersFrom(byte[] marker) => Volatile.Write(ref _trigger, Tuple.Create(marker, false));

    public void Dispose() => _listener.Stop();

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _target));
            _ = PumpAsync(client, server, cut: false);
            _ = PumpAsync(server, client, cut: true);
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool cut)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer);
                if (read == 0)
                {
                    break;
                }

                // Armed before the message goes on, so that the server's answer to it is the one affected.
                if (!cut && Volatile.Read(ref _trigger) is { } trigger && buffer.AsSpan(0, read).IndexOf(trigger.Item1) >= 0)
                {
                    Volatile.Write(ref _trigger, null);
                    if (trigger.Item2)
                    {
                        CutNextAnswer();
                    }
                    else
                    {
                        HoldAnswers();
                    }
                }

                if (cut && Interlocked.Exchange(ref _armed, 0) == 1)
                {
                    Interlocked.Increment(ref _cuts);
                    break;
                }

                if (cut && Volatile.Read(ref _hold) is { } hold)
                {
                    await hold.Task;
                }

                await to.SendAsync(buffer.AsMemory(0, read));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        from.Dispose();
        to.Dispose();
    }
}
