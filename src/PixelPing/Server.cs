using System.Net;
using PixelPing.Config;
using PixelPing.Counting;
using PixelPing.Filtering;
using PixelPing.Flushing;
using PixelPing.Http;
using PixelPing.Net;
using PixelPing.Tls;

namespace PixelPing;

/// <summary>
/// The running server: the counter store, the listener that feeds it and the flusher that empties it, wired from the
/// settings. <c>Program</c> runs one until a stop signal; integration tests run one in-process.
/// </summary>
internal sealed class Server : IAsyncDisposable
{
    private readonly Settings _settings;
    private readonly Listener _listener;
    private readonly CancellationTokenSource _stopFlusher = new();
    private Task _flushLoop = Task.CompletedTask;

    private Server(Settings settings, HitStore store, ServerContext context, Listener listener, Flusher flusher)
    {
        _settings = settings;
        Store = store;
        Context = context;
        _listener = listener;
        Flusher = flusher;
    }

    public HitStore Store { get; }
    public ServerContext Context { get; }
    public Flusher Flusher { get; }
    public IReadOnlyList<IPEndPoint> EndPoints => _listener.EndPoints;
    public int Port => _listener.EndPoints[0].Port;

    /// <summary>The listening port's certificate; null when it serves plain HTTP.</summary>
    public ServerCertificate? Certificate => Context.Tls;

    /// <summary>
    /// Loads the certificate files and binds the port; null and one line of error when a file does not load or the
    /// port cannot be had. Certificate warnings (an expired certificate) are logged and do not stop the start.
    /// </summary>
    public static Server? TryCreate(Settings settings, out string error)
    {
        var warnings = new List<string>();
        TlsFiles? tls = TlsFiles.TryLoad(settings, warnings, out error);
        foreach (string warning in warnings)
        {
            Log.Error("pixel-ping: warning: " + warning);
        }

        if (tls is null)
        {
            return null;
        }

        var store = new HitStore(settings.MaxKeys);
        HitFilter? filter = HitFilter.From(settings);
        var limits = new ServerLimits(
            new HttpLimits(settings.MaxRequestLine, settings.MaxHeaderBytes, settings.MaxHeaderCount, settings.MaxBodyBytes)
            {
                Capture = filter?.Wanted ?? HeaderFields.None,
            },
            (long)settings.HeaderTimeout.TotalMilliseconds,
            (long)settings.IdleTimeout.TotalMilliseconds,
            DescriptorBudget.Process.ConnectionCap(settings.MaxConnections));
        var context = new ServerContext(new PixelApplication(store, settings.MaxKeyLength, filter), limits, tls.Server);
        Listener? listener = Listener.TryBind(settings.Host, settings.Port, context, out error);
        if (listener is null)
        {
            return null;
        }

        EndpointClient? client = settings.Endpoint is null ? null : new EndpointClient(settings.Endpoint, settings.Timeout, tls.EndpointOptions);
        Spool? spool = settings.Spool is null || client is null ? null : new Spool(settings.Spool);
        var flusher = new Flusher(store, client, new FlushOptions(settings.Interval, settings.Secret, settings.Discard, settings.Log, settings.MaxKeyLength), spool);
        store.CapReached += flusher.Request;
        return new Server(settings, store, context, listener, flusher);
    }

    /// <summary>SIGHUP: reload the certificate files; a file that fails keeps the old certificate and logs why.</summary>
    public void ReloadCertificate()
    {
        if (Context.Tls is null)
        {
            Log.Out("Got SIGHUP. Nothing to reload: no \"sslkey\" and \"sslcert\" in " + _settings.ConfigPath + ".");
            return;
        }

        Log.Out("Got SIGHUP. Reloading the TLS certificate.");
        Context.Tls.Reload();
    }

    public void Start()
    {
        Responses.StartClock();
        _listener.Start();
        // The spool's batches wait in the flusher before its loop starts, so nothing newer can be sent ahead of them.
        Flusher.LoadSpool();
        _flushLoop = Background.Run("flush loop", () => Flusher.RunAsync(_stopFlusher.Token));
        if (Flusher.Kept is not null)
        {
            // Batches from the spool file go out at once, not an interval later.
            Flusher.Request();
        }
    }

    /// <summary>
    /// SIGTERM's path: stop accepting, let requests in progress finish (bounded), then flush once more (bounded by the
    /// flush timeout), then save what is still undelivered to the spool file when one is configured. True when
    /// nothing counted was left undelivered.
    /// </summary>
    public async Task<bool> StopAsync()
    {
        await _listener.StopAcceptingAsync().ConfigureAwait(false);
        await Context.Tracker.DrainAsync(_settings.ShutdownTimeout).ConfigureAwait(false);
        await _stopFlusher.CancelAsync().ConfigureAwait(false);
        await _flushLoop.ConfigureAwait(false);
        bool delivered = await Flusher.FlushAsync().ConfigureAwait(false);
        long undelivered = await Flusher.SaveUndeliveredAsync().ConfigureAwait(false);
        return delivered && undelivered == 0;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopFlusher.CancelAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        await _flushLoop.ConfigureAwait(false);
        _stopFlusher.Dispose();
    }
}
