using System.Net;
using PixelPing.Filtering;

namespace PixelPing.Config;

/// <summary>
/// Every config key, once: name, type and range, default, and the README's words for it. The order is the README's
/// and <c>--check</c>'s. A new key is one line here plus its <see cref="Settings"/> property.
/// </summary>
internal static class ConfigKeys
{
    public static IReadOnlyList<ConfigKey> All { get; } =
    [
        new ConfigKey<int>("port", ConfigTypes.Port, 9187, s => s.Port, (s, v) => s with { Port = v },
            "TCP port; `0` picks a free one (printed at start)"),
        new ConfigKey<string?>("host", ConfigTypes.Host, null, s => s.Host, (s, v) => s with { Host = v },
            "address or host name to listen on", none: "all interfaces, IPv6 and IPv4"),
        new ConfigKey<TimeSpan>("interval", ConfigTypes.Seconds(86400), TimeSpan.FromSeconds(60), s => s.Interval, (s, v) => s with { Interval = v },
            "flush period"),
        new ConfigKey<Uri?>("endpoint", ConfigTypes.Url, null, s => s.Endpoint, (s, v) => s with { Endpoint = v },
            "where flushes are POSTed; none: hits are only logged"),
        new ConfigKey<string?>("secret", ConfigTypes.Secret, null, s => s.Secret, (s, v) => s with { Secret = v },
            "sent as `secret=` with every flush, and used to sign it"),
        new ConfigKey<bool>("discard", ConfigTypes.Bool, false, s => s.Discard, (s, v) => s with { Discard = v },
            "drop a batch whose flush failed instead of sending it again"),
        new ConfigKey<string?>("sslkey", ConfigTypes.Path("PEM file path"), null, s => s.SslKey, (s, v) => s with { SslKey = v },
            "serve HTTPS only, with this private key and `sslcert` (see [HTTPS](#https)); SIGHUP reloads them"),
        new ConfigKey<string?>("sslcert", ConfigTypes.Path("PEM file path"), null, s => s.SslCert, (s, v) => s with { SslCert = v },
            "the certificate for `sslkey`"),
        new ConfigKey<string?>("sslca", ConfigTypes.Path("PEM file path"), null, s => s.SslCa, (s, v) => s with { SslCa = v },
            "intermediate certificates sent with the server certificate (one or more)"),
        new ConfigKey<TimeSpan>("timeout", ConfigTypes.Seconds(3600), TimeSpan.FromSeconds(10), s => s.Timeout, (s, v) => s with { Timeout = v },
            "deadline of one flush request: connect, send, response status"),
        new ConfigKey<int>("maxkeys", ConfigTypes.Integer(1, int.MaxValue), 100000, s => s.MaxKeys, (s, v) => s with { MaxKeys = v },
            "distinct keys held; reaching it flushes early, and new keys are refused until the flush (without an endpoint, until a restart: the counts are kept)"),
        new ConfigKey<int>("maxkeylength", ConfigTypes.Integer(1, 65536), 1024, s => s.MaxKeyLength, (s, v) => s with { MaxKeyLength = v },
            "longest key, in UTF-8 bytes after decoding; longer keys are refused"),
        new ConfigKey<int>("maxconnections", ConfigTypes.Integer(1, int.MaxValue), 10000, s => s.MaxConnections, (s, v) => s with { MaxConnections = v },
            "open client connections; more are closed at once; the open-file limit may lower it ([Open files](#open-files))"),
        new ConfigKey<bool>("log", ConfigTypes.Bool, true, s => s.Log, (s, v) => s with { Log = v },
            "log every key and its count at each flush"),

        // Upper bounds on buffer sizes: each open connection may hold one, so a typo must not turn maxconnections x
        // buffer into gigabytes.
        new ConfigKey<int>("maxrequestline", ConfigTypes.Integer(64, 1048576, "bytes"), 8192, s => s.MaxRequestLine, (s, v) => s with { MaxRequestLine = v },
            "longest request line; longer: `414`"),
        new ConfigKey<int>("maxheaderbytes", ConfigTypes.Integer(256, 1048576, "bytes"), 16384, s => s.MaxHeaderBytes, (s, v) => s with { MaxHeaderBytes = v },
            "header section size; larger: `431`"),
        new ConfigKey<int>("maxheadercount", ConfigTypes.Integer(1, 10000), 100, s => s.MaxHeaderCount, (s, v) => s with { MaxHeaderCount = v },
            "header lines; more: `431`"),
        new ConfigKey<int>("maxbodybytes", ConfigTypes.Integer(0, int.MaxValue, "bytes"), 65536, s => s.MaxBodyBytes, (s, v) => s with { MaxBodyBytes = v },
            "request body read and dropped; larger: `413`"),
        new ConfigKey<TimeSpan>("headertimeout", ConfigTypes.Seconds(3600), TimeSpan.FromSeconds(10), s => s.HeaderTimeout, (s, v) => s with { HeaderTimeout = v },
            "time to receive a whole request head, from its first byte; for a connection's first request, from the accept (a connection that sends nothing is closed after it); on an HTTPS port also the TLS handshake's"),
        new ConfigKey<TimeSpan>("idletimeout", ConfigTypes.Seconds(86400), TimeSpan.FromSeconds(30), s => s.IdleTimeout, (s, v) => s with { IdleTimeout = v },
            "keep-alive connection idle time before it is closed"),
        new ConfigKey<TimeSpan>("shutdowntimeout", ConfigTypes.Seconds(3600), TimeSpan.FromSeconds(5), s => s.ShutdownTimeout, (s, v) => s with { ShutdownTimeout = v },
            "how long SIGTERM waits for requests in progress"),
        new ConfigKey<string?>("spool", ConfigTypes.Path("file path"), null, s => s.Spool, (s, v) => s with { Spool = v },
            "where batches not yet accepted by the endpoint are kept, across restarts too ([The spool file](#the-spool-file)); ignored without `endpoint`"),
        new ConfigKey<string?>("endpointca", ConfigTypes.Path("PEM file path"), null, s => s.EndpointCa, (s, v) => s with { EndpointCa = v },
            "CA certificates an `https://` endpoint must chain to, instead of the system trust store"),

        // Hit filters ([Filtering](#filtering)): all off by default, so a 0.1.6 config counts as before. Lists hold at most
        // 1000 entries: each is tried on every hit.
        new ConfigKey<bool>("ignorebots", ConfigTypes.Bool, false, s => s.IgnoreBots, (s, v) => s with { IgnoreBots = v },
            "ignore hits whose `User-Agent` names a crawler, preview fetcher or HTTP library"),
        new ConfigKey<bool>("ignoreprefetch", ConfigTypes.Bool, false, s => s.IgnorePrefetch, (s, v) => s with { IgnorePrefetch = v },
            "ignore browser prefetches (`Sec-Purpose: prefetch`, `Purpose`, `X-Purpose`, `X-Moz`)"),
        new ConfigKey<IReadOnlyList<string>>("referrers", ConfigTypes.StringList(MaxFilterItems, "host names", ReferrerHosts.Problem), [],
            s => s.Referrers, (s, v) => s with { Referrers = v },
            "hosts allowed in the `Referer` (`example.org`, `*.example.org`); a hit with another is ignored"),
        new ConfigKey<bool>("requirereferrer", ConfigTypes.Bool, false, s => s.RequireReferrer, (s, v) => s with { RequireReferrer = v },
            "ignore hits without a `Referer`"),
        new ConfigKey<IReadOnlyList<string>>("keys", ConfigTypes.StringList(MaxFilterItems, "key patterns (`*` wildcard)", KeyPattern.Problem), [],
            s => s.Keys, (s, v) => s with { Keys = v },
            "only keys matching one of these patterns are counted"),
        new ConfigKey<IReadOnlyList<string>>("ignoreaddresses", ConfigTypes.StringList(MaxFilterItems, "CIDR blocks", AddressProblem), [],
            s => s.IgnoreAddresses, (s, v) => s with { IgnoreAddresses = v },
            "ignore hits from these client addresses"),
        new ConfigKey<IReadOnlyList<string>>("trustedproxies", ConfigTypes.StringList(MaxFilterItems, "CIDR blocks", AddressProblem), [],
            s => s.TrustedProxies, (s, v) => s with { TrustedProxies = v },
            "peers whose `X-Forwarded-For` / `Forwarded` name the client"),
        new ConfigKey<int>("maxhitsperclient", ConfigTypes.Integer(0, int.MaxValue), 0, s => s.MaxHitsPerClient, (s, v) => s with { MaxHitsPerClient = v },
            "counted hits per client address and key per interval; `0`: no cap"),
        new ConfigKey<IPEndPoint?>("status", ConfigTypes.Address, null, s => s.Status, (s, v) => s with { Status = v },
            "plain-HTTP listener for `/livez`, `/readyz` and `/metrics` (see [Monitoring](#monitoring)); a port alone means loopback", none: "off"),
        new ConfigKey<TimeSpan>("shutdowndelay", ConfigTypes.Seconds(3600, zero: true), TimeSpan.Zero, s => s.ShutdownDelay, (s, v) => s with { ShutdownDelay = v },
            "after SIGTERM, how long `/readyz` answers 503 while the pixel port still serves, before the shutdown begins"),
        new ConfigKey<bool>("logformat", ConfigTypes.LogFormat, false, s => s.JsonLog, (s, v) => s with { JsonLog = v },
            "`json`: every log line one JSON object (see [JSON logs](#json-logs)); `text`: the original's lines"),
    ];

    private const int MaxFilterItems = 1000;

    private static string? AddressProblem(string text) => AddressRange.TryParse(text, out _, out string error) ? null : error;

    /// <summary>The key named exactly <paramref name="name"/>, or null.</summary>
    public static ConfigKey? Find(string name)
    {
        foreach (ConfigKey key in All)
        {
            if (key.Name == name)
            {
                return key;
            }
        }

        return null;
    }
}
