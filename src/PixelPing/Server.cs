using System.Net;
using PixelPing.Config;
using PixelPing.Counting;
using PixelPing.Filtering;
using PixelPing.Flushing;
using PixelPing.Flushing.Postgres;
using PixelPing.Flushing.Redis;
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
    private readonly IEndpoint? _endpoint;
    private Listener? _status;
    private SpoolLock? _spoolLock;
    private readonly CancellationTokenSource _stopFlusher = new();
    private Task _flushLoop = Task.CompletedTask;
    private volatile bool _accepting;
    private volatile bool _stopping;

    private Server(Settings settings, ListenerContext context, Listener listener, Flusher flusher, IEndpoint? endpoint)
    {
        _settings = settings;
        Context = context;
        _listener = listener;
        Flusher = flusher;
        _endpoint = endpoint;
    }

    public ListenerContext Context { get; }
    public Flusher Flusher { get; }
    public IReadOnlyList<IPEndPoint> EndPoints => _listener.EndPoints;

    /// <summary>Where the status listener (/livez, /readyz, /metrics) listens; null when "status" is not set.</summary>
    public IPEndPoint? StatusEndPoint => _status?.EndPoints[0];

    /// <summary>
    /// Loads the certificate files, binds the port (or serves the sockets passed in, when <paramref name="inherited"/>
    /// is given) and takes the spool's lock; null and one line of error when a file does not load, the port cannot be
    /// had or another process holds the spool. Certificate warnings (an expired certificate) are logged and do not
    /// stop the start.
    /// </summary>
    public static Server? TryCreate(Settings settings, out string error, SocketActivation? inherited = null)
    {
        TlsFiles? tls = TlsFiles.LoadOrExplain(settings, out error);

        if (tls is null)
        {
            return null;
        }

        var store = new HitStore(settings.MaxKeys);
        HitFilter? filter = FilterFrom(settings);
        var limits = new ListenerLimits(
            new HttpLimits(settings.MaxRequestLine, settings.MaxHeaderBytes, settings.MaxHeaderCount, settings.MaxBodyBytes)
            {
                Capture = filter?.Wanted ?? HeaderFields.None,
            },
            (long)settings.HeaderTimeout.TotalMilliseconds,
            (long)settings.IdleTimeout.TotalMilliseconds,
            DescriptorBudget.Process.ConnectionCap(settings.MaxConnections));
        var context = new ListenerContext(new PixelApplication(store, settings.MaxKeyLength, filter), limits, tls.Server);
        Listener? listener = inherited is not null
            ? Listener.FromInherited(inherited.Pixel, context)
            : Listener.TryBind(settings.Host, settings.Port, context, out error);
        if (listener is null)
        {
            error = $"{settings.ConfigPath}: {error}";
            return null;
        }

        IEndpoint? endpoint = CreateEndpoint(settings, tls);
        // The config reader drops "spool" without "endpoint" (with a warning), so a spool here always has an endpoint.
        Spool? spool = settings.Spool is null ? null : new Spool(settings.Spool);
        var flusher = new Flusher(store, endpoint, new FlushOptions(settings.Interval, settings.Discard, settings.Log, settings.MaxKeyLength), spool);
        store.CapReached += flusher.Request;
        var server = new Server(settings, context, listener, flusher, endpoint);
        int[] inheritedStatus = inherited?.Status ?? [];
        if (settings.Status is not null || inheritedStatus.Length > 0)
        {
            // The same parser, limits and timeouts as the pixel port; a handful of connections is plenty for probes
            // and scrapers, and a flood of them cannot take the pixel port's slots. Clients that hold them without
            // finishing a request give way to a new connection.
            var statusContext = new ListenerContext(
                new StatusApplication(new ServerMetrics(store, context, flusher, spool), () => server.Ready),
                limits with { MaxConnections = StatusConnections, EvictWhenFull = true });
            server._status = inheritedStatus.Length > 0
                ? Listener.FromInherited(inheritedStatus, statusContext, loops: 1)
                : Listener.TryBind(settings.Status!.Address.ToString(), settings.Status.Port, statusContext, out error, loops: 1);
            if (server._status is null)
            {
                error = $"{settings.ConfigPath}: \"status\": {error}";
                // Nothing was started yet; the pixel port's socket is closed with the half-built server.
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
                return null;
            }
        }

        // After the ports: a second start of one config says that its port is in use. With sockets from the service
        // manager, the process before this one may still be draining: wait for it to leave the spool behind.
        if (spool is not null && !SpoolLock.TryTake(spool, wait: inherited is not null, out server._spoolLock, out error))
        {
            error = $"{settings.ConfigPath}: \"spool\": {error}";
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return null;
        }

        // Under the lock, before the flush loop starts, so that nothing newer is sent ahead of the spool's batches, and
        // before any stop signal is handled, so that a stop's save includes them instead of replacing the file without
        // them.
        flusher.LoadSpool();

        return server;
    }

    /// <summary>Where the flushes go, as the settings say: an HTTP receiver or a database; null without an endpoint.</summary>
    public static IEndpoint? CreateEndpoint(Settings settings, TlsFiles tls) => settings.Endpoint switch
    {
        null => null,
        { Kind: EndpointKind.Postgres, Postgres: { } postgres } => new PostgresStore(postgres,
            PostgresTables.Create(settings.Schema ?? PostgresTables.DefaultSchema, settings.Prefix ?? PostgresTables.DefaultPrefix),
            settings.Timeout, TimeSpan.FromDays(settings.LedgerDays)),
        { Kind: EndpointKind.Redis, Redis: { } redis } => new RedisStore(redis,
            RedisKeys.Create(settings.Prefix ?? RedisKeys.DefaultPrefix), settings.Timeout, TimeSpan.FromDays(settings.LedgerDays),
            tls.EndpointOptions, Log.Error),
        { Kind: EndpointKind.Http, Uri: { } url } => new HttpEndpoint(new EndpointClient(url, settings.Timeout, tls.EndpointOptions), settings.Secret),
        _ => throw new InvalidOperationException("an endpoint of a kind this build does not send to"),
    };

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
        _flushLoop = Background.Run("flush loop", () => Flusher.RunAsync(_stopFlusher.Token));
        if (Flusher.Kept is not null)
        {
            // Batches from the spool file go out at once, not an interval later.
            Flusher.Request();
        }
    }

    /// <summary>
    /// SIGTERM's path: stop accepting, let requests in progress finish (bounded), then flush once more (bounded by the
    /// flush timeout), then save what is still undelivered to the spool file when one is configured. Returns the hits
    /// neither delivered nor saved (a second stop signal's save, should it come first, is waited for and counts).
    /// </summary>
    public async Task<long> StopAsync()
    {
        _stopping = true;
        _accepting = false;
        await _listener.StopAcceptingAsync().ConfigureAwait(false);
        await _listener.DrainAsync(_settings.ShutdownTimeout).ConfigureAwait(false);
        await _stopFlusher.CancelAsync().ConfigureAwait(false);
        await _flushLoop.ConfigureAwait(false);
        return await Flusher.FinishAsync().ConfigureAwait(false);
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
        if (_endpoint is not null)
        {
            // A database connection kept between flushes is closed (PostgreSQL's Terminate), not just dropped.
            await _endpoint.DisposeAsync().ConfigureAwait(false);
        }

        _spoolLock?.Dispose();
    }

    /// <summary>
    /// The filters a validated config asks for, or null when it asks for none (then nothing is captured or checked).
    /// The per-client table holds at most <c>maxkeys</c> (client, key) pairs.
    /// </summary>
    private static HitFilter? FilterFrom(Settings settings)
    {
        if (!settings.IgnoreBots && !settings.IgnorePrefetch && settings.Referrers.Count == 0 && !settings.RequireReferrer
            && settings.Keys.Count == 0 && settings.IgnoreAddresses.Count == 0 && settings.MaxHitsPerClient == 0)
        {
            // trustedproxies alone changes nothing: the client address is only read by the two filters above.
            return null;
        }

        return new HitFilter(
            settings.IgnoreBots,
            settings.IgnorePrefetch,
            settings.Referrers.Count == 0 ? null : ReferrerHosts.Create(settings.Referrers),
            settings.RequireReferrer,
            settings.Keys.Count == 0 ? null : [.. settings.Keys.Select(pattern => new KeyPattern(pattern))],
            Ranges(settings.IgnoreAddresses),
            Ranges(settings.TrustedProxies),
            settings.MaxHitsPerClient == 0 ? null : new ClientCap(settings.MaxHitsPerClient, settings.MaxKeys, SipHash.WithRandomKey()));
    }

    // The reader accepted every entry with the same parser, so none fails here.
    private static AddressRange[]? Ranges(IReadOnlyList<string> texts) => texts.Count == 0
        ? null
        : [.. texts.Select(text => AddressRange.TryParse(text, out AddressRange range, out string error) ? range : throw new ArgumentException(error))];
}
