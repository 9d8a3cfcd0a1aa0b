using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PixelPing.Tests.Support;

/// <summary>What a load run saw: requests sent, and the answers by status.</summary>
public sealed record LoadResult(long Sent, IReadOnlyDictionary<int, long> Statuses)
{
    public long Answered200 => Statuses.TryGetValue(200, out long n) ? n : 0;

    public long Answered => Statuses.Values.Sum();
}

/// <summary>
/// Many GET requests pipelined over a few keep-alive connections, the quick way to push millions of hits through
/// the server: a writer fills the socket in 64 KiB chunks while a reader counts the answers by status.
/// </summary>
public static class PipelinedLoad
{
    /// <summary>
    /// Sends <paramref name="perConnection"/> requests on each of <paramref name="connections"/> connections;
    /// <paramref name="target"/> gives the request target for (connection, index on that connection).
    /// </summary>
    public static async Task<LoadResult> RunAsync(int port, int connections, long perConnection, Func<int, long, string> target,
        TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        Task<Dictionary<int, long>>[] runs = Enumerable.Range(0, connections)
            .Select(c => Task.Run(() => RunOneAsync(port, c, perConnection, target, deadline.Token)))
            .ToArray();
        Dictionary<int, long>[] results = await Task.WhenAll(runs);
        var statuses = new Dictionary<int, long>();
        foreach (Dictionary<int, long> result in results)
        {
            foreach ((int status, long n) in result)
            {
                statuses[status] = statuses.GetValueOrDefault(status) + n;
            }
        }

        return new LoadResult(connections * perConnection, statuses);
    }

    private static async Task<Dictionary<int, long>> RunOneAsync(int port, int connection, long count, Func<int, long, string> target,
        CancellationToken cancellation)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellation);
        Task writer = Task.Run(async () =>
        {
            byte[] chunk = new byte[64 * 1024];
            int used = 0;
            for (long i = 0; i < count; i++)
            {
                string request = "GET " + target(connection, i) + " HTTP/1.1\r\nHost: load\r\n\r\n";
                if (chunk.Length - used < Encoding.Latin1.GetMaxByteCount(request.Length))
                {
                    await SendAllAsync(socket, chunk.AsMemory(0, used), cancellation);
                    used = 0;
                    if (chunk.Length < request.Length)
                    {
                        chunk = new byte[request.Length * 2];
                    }
                }

                used += Encoding.Latin1.GetBytes(request, chunk.AsSpan(used));
            }

            await SendAllAsync(socket, chunk.AsMemory(0, used), cancellation);
        }, cancellation);

        var statuses = new Dictionary<int, long>();
        byte[] buffer = new byte[256 * 1024];
        int start = 0;
        int end = 0;
        long answered = 0;
        while (answered < count)
        {
            // Parse every whole response in the buffer.
            while (true)
            {
                ReadOnlySpan<byte> data = buffer.AsSpan(start, end - start);
                int headEnd = data.IndexOf("\r\n\r\n"u8);
                if (headEnd < 0)
                {
                    break;
                }

                ReadOnlySpan<byte> head = data[..headEnd];
                int status = ((head[9] - '0') * 100) + ((head[10] - '0') * 10) + (head[11] - '0');
                int lengthAt = head.IndexOf("Content-Length: "u8);
                int length = 0;
                if (lengthAt >= 0)
                {
                    ReadOnlySpan<byte> digits = head[(lengthAt + 16)..];
                    int lineEnd = digits.IndexOf((byte)'\r');
                    length = int.Parse(lineEnd < 0 ? digits : digits[..lineEnd]);
                }

                if (data.Length < headEnd + 4 + length)
                {
                    break;
                }

                start += headEnd + 4 + length;
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                answered++;
            }

            if (answered == count)
            {
                break;
            }

            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                end -= start;
                start = 0;
            }

            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, cancellation);
            }
            catch (SocketException)
            {
                break;
            }

            if (read == 0)
            {
                break;
            }

            end += read;
        }

        try
        {
            await writer;
        }
        catch (SocketException)
        {
            // The server closed the connection: the answers counted so far are the result.
        }

        return statuses;
    }

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellation)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None, cancellation);
            data = data[sent..];
        }
    }
}
