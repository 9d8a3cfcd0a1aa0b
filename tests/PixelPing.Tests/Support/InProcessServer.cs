using PixelPing.Config;

namespace PixelPing.Tests.Support;

/// <summary>The real server (listener, store, flusher) started in the test process on 127.0.0.1 and a free port.</summary>
internal sealed class InProcessServer : IAsyncDisposable
{
    private InProcessServer(Server server)
    {
        Server = server;
    }

    public Server Server { get; }

    public int Port => Server.EndPoints[0].Port;

    public static InProcessServer Start(Settings settings)
    {
        Server? server = Server.TryCreate(settings, out string error);
        Assert.True(server is not null, error);
        server.Start();
        return new InProcessServer(server);
    }

    /// <summary>An HTTP endpoint as the config reader makes it from <paramref name="url"/>.</summary>
    public static EndpointAddress Http(string url) => new() { Kind = EndpointKind.Http, Text = url, Uri = new Uri(url) };

    /// <summary>Settings for a test: loopback, any free port, quiet logs, and whatever the test changes.</summary>
    public static Settings Defaults(EndpointReceiver? receiver = null, double intervalSeconds = 0.2) => Settings.Default with
    {
        ConfigPath = "test.json",
        Host = "127.0.0.1",
        Port = 0,
        Endpoint = receiver is null ? null : Http(receiver.Url),
        Interval = TimeSpan.FromSeconds(intervalSeconds),
        Timeout = TimeSpan.FromSeconds(2),
        Log = false,
    };

    /// <summary>
    /// What the endpoint has been sent for <paramref name="key"/> once everything counted so far is flushed: counts as an
    /// operator sees them. <paramref name="receiver"/> must be the server's endpoint.
    /// </summary>
    public async Task<long> DeliveredAsync(EndpointReceiver receiver, string key)
    {
        Assert.True(await Server.Flusher.FlushAsync(), "the endpoint did not take the flush");
        return receiver.Totals.GetValueOrDefault(key);
    }

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
