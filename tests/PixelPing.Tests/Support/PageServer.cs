using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PixelPing.Tests.Support;

/// <summary>
/// A tiny HTTP server on 127.0.0.1 that answers every request with one HTML page (and closes the connection): the
/// page a real browser loads in the browser tests. It records the request targets it saw.
/// </summary>
public sealed class PageServer : IAsyncDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly byte[] _response;
    private readonly Task _loop;
    private readonly List<string> _targets = [];

    public PageServer(string html)
    {
        byte[] body = Encoding.UTF8.GetBytes(html);
        _response = [.. Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {body.Length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"), .. body];
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _loop = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/";

    public string[] Targets { get { lock (_targets) { return [.. _targets]; } } }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => AnswerAsync(client));
        }
    }

    private async Task AnswerAsync(Socket client)
    {
        using (client)
        {
            try
            {
                byte[] buffer = new byte[16 * 1024];
                int length = 0;
                while (length < buffer.Length && buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8) < 0)
                {
                    int read = await client.ReceiveAsync(buffer.AsMemory(length));
                    if (read == 0)
                    {
                        return;
                    }

                    length += read;
                }

                string line = Encoding.Latin1.GetString(buffer, 0, length).Split("\r\n")[0];
                lock (_targets)
                {
                    _targets.Add(line);
                }

                await client.SendAsync(_response);
                client.Shutdown(SocketShutdown.Send);
            }
            catch (SocketException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        await _loop;
    }
}
