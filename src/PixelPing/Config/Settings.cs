using System.Globalization;
using System.Net;
using System.Text;
using static System.FormattableString;

namespace PixelPing.Config;

/// <summary>
/// The validated configuration, immutable once <see cref="SettingsReader"/> has built it. Each key's type, range and
/// default are declared in <see cref="ConfigKeys"/>; <see cref="Default"/> holds all the defaults.
/// </summary>
internal sealed record Settings
{
    /// <summary>Every key at its default.</summary>
    public static Settings Default { get; } = ConfigKeys.All.Aggregate(new Settings(), static (s, key) => key.WithDefault(s));

    public string ConfigPath { get; init; } = "";

    /// <summary>Where each key's value came from (the config file's name, or "environment PIXELPING_X"), by key; a key not listed has its default.</summary>
    public IReadOnlyDictionary<string, string> Sources { get; init; } = new Dictionary<string, string>();

    /// <summary>0 asks the OS for any free port; the listener prints the one it got.</summary>
    public int Port { get; init; }

    /// <summary>null binds all interfaces, IPv6 and IPv4.</summary>
    public string? Host { get; init; }

    public TimeSpan Interval { get; init; }

    /// <summary>An HTTP receiver or a database (<see cref="EndpointAddress"/>); null means hits are only logged.</summary>
    public EndpointAddress? Endpoint { get; init; }

    /// <summary>Never empty: an empty "secret" is read as unset, as the original's <c>if config.secret</c> did.</summary>
    public string? Secret { get; init; }

    public bool Discard { get; init; }
    public string? SslKey { get; init; }
    public string? SslCert { get; init; }
    public string? SslCa { get; init; }
    public TimeSpan Timeout { get; init; }
    public int MaxKeys { get; init; }
    public int MaxKeyLength { get; init; }
    public int MaxConnections { get; init; }
    public bool Log { get; init; }
    public int MaxRequestLine { get; init; }
    public int MaxHeaderBytes { get; init; }
    public int MaxHeaderCount { get; init; }
    public int MaxBodyBytes { get; init; }
    public TimeSpan HeaderTimeout { get; init; }
    public TimeSpan IdleTimeout { get; init; }
    public TimeSpan ShutdownTimeout { get; init; }
    public string? Spool { get; init; }
    public string? EndpointCa { get; init; }

    /// <summary>The PostgreSQL schema of the tables.</summary>
    public string? Schema { get; init; }

    /// <summary>The PostgreSQL table prefix or the Redis key prefix; null for the endpoint's own default.</summary>
    public string? Prefix { get; init; }

    /// <summary>How long a database's ledger remembers a stored batch id.</summary>
    public int LedgerDays { get; init; }

    /// <summary>The status listener (/livez, /readyz, /metrics); null when off.</summary>
    public IPEndPoint? Status { get; init; }

    /// <summary>After SIGTERM, how long the pixel port keeps serving while /readyz answers 503.</summary>
    public TimeSpan ShutdownDelay { get; init; }

    /// <summary>Every log line a JSON object ("logformat": "json") instead of the original's text.</summary>
    public bool JsonLog { get; init; }

    // Hit filters (docs/filtering.md); every one is off by default. An empty list means the filter is off.
    public bool IgnoreBots { get; init; }
    public bool IgnorePrefetch { get; init; }
    public IReadOnlyList<string> Referrers { get; init; } = [];
    public bool RequireReferrer { get; init; }
    public IReadOnlyList<string> Keys { get; init; } = [];
    public IReadOnlyList<string> IgnoreAddresses { get; init; } = [];
    public IReadOnlyList<string> TrustedProxies { get; init; } = [];
    public int MaxHitsPerClient { get; init; }

    /// <summary>The reader guarantees key and certificate come together, so either one means HTTPS.</summary>
    public bool Tls => SslKey is not null || SslCert is not null;

    /// <summary>What <c>--check</c> prints: where the server would listen, then every key's value and where it came from.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        string scheme = Tls ? "https" : "http";
        string address = Host is null ? "all interfaces (IPv6 and IPv4)" : LogEscape.Text(Host);
        string port = Port == 0 ? "any free port (printed at start)" : "port " + Port.ToString(CultureInfo.InvariantCulture);

        Line(text, "config", LogEscape.Text(ConfigPath));
        Line(text, "listen", $"{scheme} on {address}, {port}");
        Line(text, "filters", Filters());
        foreach (ConfigKey key in ConfigKeys.All)
        {
            Line(text, key.Name, key.Show(this) + (Sources.TryGetValue(key.Name, out string? source) ? $" (from {source})" : " (default)"));
        }

        return text.ToString();
    }

    /// <summary>The hit filters in force, in the order they are tried (docs/filtering.md).</summary>
    private string Filters()
    {
        var on = new List<string>();
        if (IgnoreBots)
        {
            on.Add("bots");
        }

        if (IgnorePrefetch)
        {
            on.Add("prefetches");
        }

        if (Referrers.Count > 0 || RequireReferrer)
        {
            on.Add(Invariant($"referrers ({Referrers.Count} allowed hosts, a hit without Referer {(RequireReferrer ? "ignored" : "counted")})"));
        }

        if (Keys.Count > 0)
        {
            on.Add(Invariant($"keys ({Keys.Count} patterns)"));
        }

        if (IgnoreAddresses.Count > 0)
        {
            on.Add(Invariant($"addresses ({IgnoreAddresses.Count} blocks ignored)"));
        }

        if (MaxHitsPerClient > 0)
        {
            on.Add(Invariant($"at most {MaxHitsPerClient} hits per client and key in a batch"));
        }

        if (on.Count == 0)
        {
            return "none (every hit with a key is counted)";
        }

        string clients = TrustedProxies.Count > 0 && (IgnoreAddresses.Count > 0 || MaxHitsPerClient > 0)
            ? Invariant($"; client address from X-Forwarded-For/Forwarded behind {TrustedProxies.Count} trusted proxy blocks")
            : "";
        return "ignoring " + string.Join(", ", on) + clients;
    }

    private static void Line(StringBuilder text, string label, string value) =>
        text.Append(label).Append(':').Append(' ', Math.Max(1, 15 - label.Length)).Append(value).Append('\n');
}
