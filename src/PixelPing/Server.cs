using System.Net;
using PixelPing.Config;
using PixelPing.Counting;
using PixelPing.Filtering;
using PixelPing.Flushing;
using PixelPing.Http;
using PixelPing.Monitoring;
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
    private Listener? _status;
    private readonly CancellationTokenSource _stopFlusher = new();
    private Task _flushLoop = Task.CompletedTask;
    private volatile bool _accepting;
    private volatile bool _stopping;

    private Server(Settings settings, ServerContext context, Listener listener, Flusher flusher)
    {
        _settings = settings;
        Context = context;
        _listener = listener;
        Flusher = flusher;
    }

    public ServerContext Context { get; }
    public Flusher Flusher { get; }
    public IReadOnlyList<IPEndPoint> EndPoints => _listener.EndPoints;

    /// <summary>Where the status listener (/livez, /readyz, /metrics) listens; null when "status" is not set.</summary>
    public IPEndPoint? StatusEndPoint => _status?.EndPoints[0];

    /// <summary>
    /// Loads the certificate files and binds the port; null and one line of error when a file does not load or the
    /// port cannot be had. Certificate warnings (an expired certificate) are logged and do not stop the start.
    /// </summary>
    public static Server? TryCreate(Settings settings, out string error)
    {
        TlsFiles? tls = TlsFiles.LoadOrExplain(settings, out error);

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
            error = $"{settings.ConfigPath}: {error}";
            return null;
        }

        EndpointClient? client = settings.Endpoint is null ? null : new EndpointClient(settings.Endpoint, settings.Timeout, tls.EndpointOptions);
        // The config reader drops "spool" without "endpoint" (with a warning), so a spool here always has a client.
        Spool? spool = settings.Spool is null ? null : new Spool(settings.Spool);
        var flusher = new Flusher(store, client, new FlushOptions(settings.Interval, settings.Secret, settings.Discard, settings.Log, settings.MaxKeyLength), spool);
        store.CapReached += flusher.Request;
        var server = new Server(settings, context, listener, flusher);
        if (settings.Status is IPEndPoint status)
        {
            // The same parser, limits and timeouts as the pixel port; a handful of connections is plenty for probes
            // and scrapers, and a flood of them cannot take the pixel port's slots.
            var statusContext = new ServerContext(
                new StatusApplication(new ServerMetrics(store, context, flusher, spool), () => server.Ready),
                limits with { MaxConnections = StatusConnections });
            server._status = Listener.TryBind(status.Address.ToString(), status.Port, statusContext, out error, loops: 1);
            if (server._status is null)
            {
                error = $"{settings.ConfigPath}: \"status\": {error}";
                // Nothing was started yet; the pixel port's socket is closed with the half-built server.
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
                return null;
            }
        }

        return server;
    }

    // Probes and scrapers need a few connections; 16 fit inside the descriptors kept back from the pixel port's cap.
    private const int StatusConnections = 16;

    /// <summary>/readyz: the pixel port accepts and no stop signal has come.</summary>
    public bool Ready => _accepting && !_stopping;

    /// <summary>A stop signal came: from now on the server is not ready, though it keeps serving until told to stop.</summary>
    public void BeginStopping() => _stopping = true;

    /// <summary>SIGHUP: reload the certificate files; a file that fails keeps the old certificate and logs why.</summary>
    public void ReloadCertificate()
    {
        if (Context.Tls is null)
        {
            Log.OutNoWait("Got SIGHUP. Nothing to reload: no \"sslkey\" and \"sslcert\" in " + LogEscape.Text(_settings.ConfigPath) + ".");
            return;
        }

        Log.OutNoWait("Got SIGHUP. Reloading the TLS certificate.");
        Context.Tls.Reload();
    }

    public void Start()
    {
        Responses.StartClock();
        _listener.Start();
        _status?.Start();
        _accepting = true;
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
        _stopping = true;
        _accepting = false;
        await _listener.StopAcceptingAsync().ConfigureAwait(false);
        await _listener.DrainAsync(_settings.ShutdownTimeout).ConfigureAwait(false);
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
        if (_status is not null)
        {
            await _status.DisposeAsync().ConfigureAwait(false);
        }

        await _flushLoop.ConfigureAwait(false);
        _stopFlusher.Dispose();
    }
}
