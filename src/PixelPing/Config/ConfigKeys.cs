using System.Net;
using PixelPing.Filtering;
using PixelPing.Flushing.Postgres;
using PixelPing.Flushing.Redis;

namespace PixelPing.Config;

/// <summary>
/// Every config key, once: name, type and range, default. The order is <c>--check</c>'s (and docs/configuration.md's
/// table's). A new key is one line here plus its <see cref="Settings"/> property.
/// </summary>
internal static class ConfigKeys
{
    public static IReadOnlyList<ConfigKey> All { get; } =
    [
        new ConfigKey<int>("port", ConfigTypes.Port, 9187, s => s.Port, (s, v) => s with { Port = v }),
        new ConfigKey<string?>("host", ConfigTypes.Host, null, s => s.Host, (s, v) => s with { Host = v },
            none: "all interfaces, IPv6 and IPv4"),
        new ConfigKey<TimeSpan>("interval", ConfigTypes.Seconds(86400), TimeSpan.FromSeconds(60), s => s.Interval, (s, v) => s with { Interval = v }),
        new ConfigKey<EndpointAddress?>("endpoint", ConfigTypes.Endpoint, null, s => s.Endpoint, (s, v) => s with { Endpoint = v }),
        new ConfigKey<string?>("secret", ConfigTypes.Secret, null, s => s.Secret, (s, v) => s with { Secret = v }),
        new ConfigKey<bool>("discard", ConfigTypes.Bool, false, s => s.Discard, (s, v) => s with { Discard = v }),
        new ConfigKey<string?>("sslkey", ConfigTypes.Path, null, s => s.SslKey, (s, v) => s with { SslKey = v }),
        new ConfigKey<string?>("sslcert", ConfigTypes.Path, null, s => s.SslCert, (s, v) => s with { SslCert = v }),
        new ConfigKey<string?>("sslca", ConfigTypes.Path, null, s => s.SslCa, (s, v) => s with { SslCa = v }),
        new ConfigKey<TimeSpan>("timeout", ConfigTypes.Seconds(3600), TimeSpan.FromSeconds(10), s => s.Timeout, (s, v) => s with { Timeout = v }),
        new ConfigKey<int>("maxkeys", ConfigTypes.Integer(1, int.MaxValue), 100000, s => s.MaxKeys, (s, v) => s with { MaxKeys = v }),
        new ConfigKey<int>("maxkeylength", ConfigTypes.Integer(1, 65536), 1024, s => s.MaxKeyLength, (s, v) => s with { MaxKeyLength = v }),
        new ConfigKey<int>("maxconnections", ConfigTypes.Integer(1, int.MaxValue), 10000, s => s.MaxConnections, (s, v) => s with { MaxConnections = v }),
        new ConfigKey<bool>("log", ConfigTypes.Bool, true, s => s.Log, (s, v) => s with { Log = v }),

        // Upper bounds on buffer sizes: each open connection may hold one, so a typo must not turn maxconnections x
        // buffer into gigabytes.
        new ConfigKey<int>("maxrequestline", ConfigTypes.Integer(64, 1048576), 8192, s => s.MaxRequestLine, (s, v) => s with { MaxRequestLine = v }),
        new ConfigKey<int>("maxheaderbytes", ConfigTypes.Integer(256, 1048576), 16384, s => s.MaxHeaderBytes, (s, v) => s with { MaxHeaderBytes = v }),
        new ConfigKey<int>("maxheadercount", ConfigTypes.Integer(1, 10000), 100, s => s.MaxHeaderCount, (s, v) => s with { MaxHeaderCount = v }),
        new ConfigKey<int>("maxbodybytes", ConfigTypes.Integer(0, int.MaxValue), 65536, s => s.MaxBodyBytes, (s, v) => s with { MaxBodyBytes = v }),
        new ConfigKey<TimeSpan>("headertimeout", ConfigTypes.Seconds(3600), TimeSpan.FromSeconds(10), s => s.HeaderTimeout, (s, v) => s with { HeaderTimeout = v }),
        new ConfigKey<TimeSpan>("idletimeout", ConfigTypes.Seconds(86400), TimeSpan.FromSeconds(30), s => s.IdleTimeout, (s, v) => s with { IdleTimeout = v }),
        new ConfigKey<TimeSpan>("shutdowntimeout", ConfigTypes.Seconds(3600), TimeSpan.FromSeconds(5), s => s.ShutdownTimeout, (s, v) => s with { ShutdownTimeout = v }),
        new ConfigKey<string?>("spool", ConfigTypes.Path, null, s => s.Spool, (s, v) => s with { Spool = v }),
        new ConfigKey<string?>("endpointca", ConfigTypes.Path, null, s => s.EndpointCa, (s, v) => s with { EndpointCa = v }),

        // A database endpoint's names and its ledger (docs/databases.md); ignored with an HTTP endpoint.
        new ConfigKey<string?>("schema", ConfigTypes.Name, PostgresTables.DefaultSchema, s => s.Schema, (s, v) => s with { Schema = v }),
        new ConfigKey<string?>("prefix", ConfigTypes.Name, null, s => s.Prefix, (s, v) => s with { Prefix = v },
            none: $"{PostgresTables.DefaultPrefix} (PostgreSQL), {RedisKeys.DefaultPrefix} (Redis)"),
        new ConfigKey<int>("ledgerdays", ConfigTypes.Integer(1, 3650), 35, s => s.LedgerDays, (s, v) => s with { LedgerDays = v }),

        // Hit filters (docs/filtering.md): all off by default, so a 0.1.6 config counts as before. Lists hold at most
        // 1000 entries: each is tried on every hit.
        new ConfigKey<bool>("ignorebots", ConfigTypes.Bool, false, s => s.IgnoreBots, (s, v) => s with { IgnoreBots = v }),
        new ConfigKey<bool>("ignoreprefetch", ConfigTypes.Bool, false, s => s.IgnorePrefetch, (s, v) => s with { IgnorePrefetch = v }),
        new ConfigKey<IReadOnlyList<string>>("referrers", ConfigTypes.StringList(MaxFilterItems, ReferrerHosts.Problem), [],
            s => s.Referrers, (s, v) => s with { Referrers = v }),
        new ConfigKey<bool>("requirereferrer", ConfigTypes.Bool, false, s => s.RequireReferrer, (s, v) => s with { RequireReferrer = v }),
        new ConfigKey<IReadOnlyList<string>>("keys", ConfigTypes.StringList(MaxFilterItems, KeyPattern.Problem), [],
            s => s.Keys, (s, v) => s with { Keys = v }),
        new ConfigKey<IReadOnlyList<string>>("ignoreaddresses", ConfigTypes.StringList(MaxFilterItems, AddressProblem), [],
            s => s.IgnoreAddresses, (s, v) => s with { IgnoreAddresses = v }),
        new ConfigKey<IReadOnlyList<string>>("trustedproxies", ConfigTypes.StringList(MaxFilterItems, AddressProblem), [],
            s => s.TrustedProxies, (s, v) => s with { TrustedProxies = v }),
        new ConfigKey<int>("maxhitsperclient", ConfigTypes.Integer(0, int.MaxValue), 0, s => s.MaxHitsPerClient, (s, v) => s with { MaxHitsPerClient = v }),
        new ConfigKey<IPEndPoint?>("status", ConfigTypes.Address, null, s => s.Status, (s, v) => s with { Status = v }, none: "off"),
        new ConfigKey<TimeSpan>("shutdowndelay", ConfigTypes.Seconds(3600, zero: true), TimeSpan.Zero, s => s.ShutdownDelay, (s, v) => s with { ShutdownDelay = v }),
        new ConfigKey<bool>("logformat", ConfigTypes.LogFormat, false, s => s.JsonLog, (s, v) => s with { JsonLog = v }),
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
