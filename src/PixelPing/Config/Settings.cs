using System.Globalization;
using System.Net;
using System.Text;

namespace PixelPing.Config;

/// <summary>
/// The validated configuration, immutable once <see cref="SettingsReader"/> has built it.
/// Defaults here are the ones documented in the README; the reader only overrides what the file sets.
/// </summary>
internal sealed record Settings
{
    public string ConfigPath { get; init; } = "";

    /// <summary>0 asks the OS for any free port; the listener prints the one it got.</summary>
    public int Port { get; init; } = 9187;

    /// <summary>null binds all interfaces, IPv6 and IPv4.</summary>
    public string? Host { get; init; }

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Absolute http:// or https:// URL with a host; null means hits are only logged.</summary>
    public Uri? Endpoint { get; init; }

    /// <summary>Never empty: an empty "secret" is read as unset, as the original's <c>if config.secret</c> did.</summary>
    public string? Secret { get; init; }

    public bool Discard { get; init; }
    public string? SslKey { get; init; }
    public string? SslCert { get; init; }
    public string? SslCa { get; init; }
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
    public int MaxKeys { get; init; } = 100000;
    public int MaxKeyLength { get; init; } = 1024;
    public int MaxConnections { get; init; } = 10000;
    public string? Spool { get; init; }
    public string? EndpointCa { get; init; }
    public bool Log { get; init; } = true;

    public int MaxRequestLine { get; init; } = 8192;
    public int MaxHeaderBytes { get; init; } = 16384;
    public int MaxHeaderCount { get; init; } = 100;
    public int MaxBodyBytes { get; init; } = 65536;
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The status listener (/livez, /readyz, /metrics); null when off.</summary>
    public IPEndPoint? Status { get; init; }

    /// <summary>After SIGTERM, how long the pixel port keeps serving while /readyz answers 503.</summary>
    public TimeSpan ShutdownDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Every log line a JSON object ("logformat": "json") instead of the original's text.</summary>
    public bool JsonLog { get; init; }

    /// <summary>The reader guarantees key and certificate come together, so either one means HTTPS.</summary>
    public bool Tls => SslKey is not null || SslCert is not null;

    /// <summary>What <c>--check</c> prints: enough to see what the server would do, never the secret.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        string scheme = Tls ? "https" : "http";
        string address = Host is null ? "all interfaces (IPv6 and IPv4)" : Host;
        string port = Port == 0 ? "any free port (printed at start)" : "port " + Port.ToString(CultureInfo.InvariantCulture);

        Line(text, "config", ConfigPath);
        Line(text, "listen", $"{scheme} on {address}, {port}");
        if (Tls)
        {
            Line(text, "tls", $"key {SslKey}, certificate {SslCert}" + (SslCa is null ? "" : $", chain {SslCa}"));
        }

        if (Endpoint is null)
        {
            Line(text, "endpoint", "none (hits are only logged)");
        }
        else
        {
            Line(text, "endpoint", Endpoint.OriginalString + (Secret is null ? " (no secret)" : " (secret: (set))"));
            if (EndpointCa is not null)
            {
                Line(text, "endpoint ca", EndpointCa);
            }
        }

        Line(text, "interval", Seconds(Interval));
        Line(text, "flush timeout", Seconds(Timeout));
        Line(text, "failed batch", Discard ? "discarded" : "kept and sent again");
        Line(text, "log keys", Log ? "yes" : "no");
        if (Spool is not null)
        {
            Line(text, "spool", Spool);
        }

        Line(text, "limits", Invariant($"maxkeys {MaxKeys}, maxkeylength {MaxKeyLength} bytes, maxconnections {MaxConnections}"));
        Line(text, "http limits", Invariant(
            $"maxrequestline {MaxRequestLine}, maxheaderbytes {MaxHeaderBytes}, maxheadercount {MaxHeaderCount}, maxbodybytes {MaxBodyBytes}"));
        Line(text, "http timeouts",
            $"header {Seconds(HeaderTimeout)}, idle {Seconds(IdleTimeout)}, shutdown {Seconds(ShutdownTimeout)}");
        return text.ToString();
    }

    private static void Line(StringBuilder text, string label, string value) =>
        text.Append(label).Append(':').Append(' ', Math.Max(1, 15 - label.Length)).Append(value).Append('\n');

    private static string Seconds(TimeSpan value) =>
        value.TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture) + " s";

    private static string Invariant(FormattableString value) => FormattableString.Invariant(value);
}
