using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PixelPing.Flushing.Postgres;
using PixelPing.Flushing.Redis;
using static System.FormattableString;

namespace PixelPing.Config;

/// <summary>The kinds of value a config key can take. A new key picks one here; a new kind is one more method.</summary>
internal static class ConfigTypes
{
    public static ConfigType<bool> Bool { get; } = new(
        static (in ConfigValue value, out bool result, out string complaint, out string? note) =>
        {
            note = null;
            result = value.Kind == ConfigValueKind.True;
            return Check(value.Kind is ConfigValueKind.True or ConfigValueKind.False, value, "true or false", out complaint);
        },
        static value => value ? "true" : "false");

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static ConfigType<int> Integer(int min, int max) => new(
        (in ConfigValue value, out int result, out string complaint, out string? note) =>
        {
            note = null;
            bool ok = value.Kind == ConfigValueKind.Number && double.IsFinite(value.Number)
                && Math.Floor(value.Number) == value.Number && value.Number >= min && value.Number <= max;
            result = ok ? (int)value.Number : 0;
            return Check(ok, value, Invariant($"an integer from {min} to {max}"), out complaint);
        },
        static value => value.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// A TCP port, 0 to 65535. Node's listen() took "8080" as 8080, so a string of plain digits counts too; "80abc" is
    /// an error, not port 80.
    /// </summary>
    public static ConfigType<int> Port { get; } = new(
        static (in ConfigValue value, out int result, out string complaint, out string? note) =>
        {
            note = null;
            bool ok = value.Kind switch
            {
                ConfigValueKind.Number => Math.Floor(value.Number) == value.Number && value.Number >= 0 && value.Number <= 65535,
                ConfigValueKind.String => !value.Escaped && value.Text.Length is > 0 and <= 5 && !value.Text.AsSpan().ContainsAnyExceptInRange('0', '9')
                    && int.Parse(value.Text, NumberStyles.None, CultureInfo.InvariantCulture) <= 65535,
                _ => false,
            };
            result = !ok ? 0
                : value.Kind == ConfigValueKind.Number ? (int)value.Number
                : int.Parse(value.Text, NumberStyles.None, CultureInfo.InvariantCulture);
            return Check(ok, value, "a number or numeric string from 0 to 65535", out complaint);
        },
        static value => value.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// Seconds, fractions allowed, from a millisecond (below that a timer degenerates into the original's
    /// flush-every-millisecond bug) to <paramref name="maxSeconds"/>; from 0 when <paramref name="zero"/> (a delay
    /// that can be off).
    /// </summary>
    public static ConfigType<TimeSpan> Seconds(int maxSeconds, bool zero = false) => new(
        (in ConfigValue value, out TimeSpan result, out string complaint, out string? note) =>
        {
            note = null;
            double min = zero ? 0 : 0.001;
            bool ok = value.Kind == ConfigValueKind.Number && double.IsFinite(value.Number) && value.Number >= min && value.Number <= maxSeconds;
            result = ok ? TimeSpan.FromTicks((long)Math.Round(value.Number * TimeSpan.TicksPerSecond)) : default;
            return Check(ok, value, Invariant($"a number of seconds from {min} to {maxSeconds}"), out complaint);
        },
        static value => value.TotalSeconds.ToString("0.######", CultureInfo.InvariantCulture),
        unit: " s");

    /// <summary>A path to a file.</summary>
    public static ConfigType<string?> Path { get; } = new(
        static (in ConfigValue value, out string? result, out string complaint, out string? note) =>
        {
            note = null;
            // No file name holds a NUL: the system would cut the path there, and the runtime refuses it later.
            bool ok = value.Kind == ConfigValueKind.String && value.Text.Length > 0 && !value.Text.Contains('\0', StringComparison.Ordinal);
            result = ok ? value.Text : null;
            return Check(ok, value, "a non-empty file path without NUL characters", out complaint);
        },
        static value => LogEscape.Text(value ?? ""));

    /// <summary>A name for something outside (a schema, a prefix): any string without NUL, the empty one included.</summary>
    public static ConfigType<string?> Name { get; } = new(
        static (in ConfigValue value, out string? result, out string complaint, out string? note) =>
        {
            note = null;
            bool ok = value.Kind == ConfigValueKind.String && !value.Text.Contains('\0', StringComparison.Ordinal);
            result = ok ? value.Text : null;
            return Check(ok, value, "a string without NUL characters", out complaint);
        },
        static value => value is { Length: > 0 } ? LogEscape.Text(value) : "\"\"");

    /// <summary>An address or host name to listen on: no spaces or control characters, which no name has.</summary>
    public static ConfigType<string?> Host { get; } = new(
        static (in ConfigValue value, out string? result, out string complaint, out string? note) =>
        {
            note = null;
            bool ok = value.Kind == ConfigValueKind.String && value.Text.Length > 0 && !value.Text.Any(static c => c <= ' ' || c == '\u007F');
            result = ok ? value.Text : null;
            return Check(ok, value, "a non-empty address or host name", out complaint);
        },
        static value => LogEscape.Text(value ?? ""));

    /// <summary>
    /// Where a listener of our own listens: "127.0.0.1:9188", "[::1]:9188", or a port alone (a number or a numeric
    /// string) meaning loopback. An address literal, not a name: a name could resolve to an address of another host.
    /// </summary>
    public static ConfigType<IPEndPoint?> Address { get; } = new(
        static (in ConfigValue value, out IPEndPoint? result, out string complaint, out string? note) =>
        {
            note = null;
            result = null;
            complaint = "";
            string what = "an address and port such as \"127.0.0.1:9188\" or \"[::1]:9188\", or a port alone";
            if (Port.Parse(value, out int port, out _, out _))
            {
                result = new IPEndPoint(IPAddress.Loopback, port);
                return true;
            }

            if (value.Kind != ConfigValueKind.String)
            {
                return Check(false, value, what, out complaint);
            }

            // The port is whatever follows the last ':' (after a ']' for IPv6); a bare IPv6 address has no room for one.
            string text = value.Text;
            int colon = text.LastIndexOf(':');
            bool bracketed = text.StartsWith('[');
            string address = colon < 0 ? text : text[..colon];
            if (bracketed ? !address.EndsWith(']') : address.Contains(':'))
            {
                return Check(false, value, what + " (an IPv6 address goes in brackets)", out complaint);
            }

            if (colon > 0
                && IPAddress.TryParse(bracketed ? address[1..^1] : address, out IPAddress? ip)
                && (bracketed ? ip.AddressFamily == AddressFamily.InterNetworkV6 : address.Count(static c => c == '.') == 3)
                && Port.Parse(ConfigValue.FromString(text[(colon + 1)..]), out port, out _, out _))
            {
                result = new IPEndPoint(ip, port);
                return true;
            }

            return Check(false, value, what, out complaint);
        },
        static value => value?.ToString() ?? "");

    /// <summary>How log lines are written: the original's text (false) or one JSON object per line (true).</summary>
    public static ConfigType<bool> LogFormat { get; } = new(
        static (in ConfigValue value, out bool result, out string complaint, out string? note) =>
        {
            note = null;
            result = value.Kind == ConfigValueKind.String && value.Text == "json";
            return Check(value.Kind == ConfigValueKind.String && value.Text is "text" or "json", value, "\"text\" or \"json\"", out complaint);
        },
        static value => value ? "json" : "text");

    /// <summary>The flush secret. As in the original (<c>if config.secret</c>), an empty secret means none is sent.</summary>
    public static ConfigType<string?> Secret { get; } = new(
        static (in ConfigValue value, out string? result, out string complaint, out string? note) =>
        {
            note = null;
            bool ok = value.Kind == ConfigValueKind.String;
            result = ok && value.Text.Length > 0 ? value.Text : null;
            // Not even a wrong value is echoed: a secret written as a number is still the secret.
            complaint = ok ? "" : $"must be a string (got {(value.Kind == ConfigValueKind.Number ? "a number" : value.Got)})";
            return ok;
        },
        // Never the secret itself: --check output ends up in tickets and chat.
        static _ => "(set)");

    /// <summary>
    /// Where the counts go: an absolute http:// or https:// URL with a host and without credentials (a receiver), a
    /// postgresql:// or postgres:// URI as libpq reads it, or a redis:// or rediss:// URL (a database Pixel Ping writes
    /// to itself).
    /// </summary>
    public static ConfigType<EndpointAddress?> Endpoint { get; } = new(
        static (in ConfigValue value, out EndpointAddress? result, out string complaint, out string? note) =>
        {
            note = null;
            result = null;
            const string What = "an http://, https://, postgresql://, postgres://, redis:// or rediss:// URL";
            if (value.Kind != ConfigValueKind.String)
            {
                return Check(false, value, What, out complaint);
            }

            // The text as shown in a complaint: no password or query value (it may be a token).
            string got = Quoting.Quote(EndpointText.Redact(value.Text));

            if (value.Text.Length == 0)
            {
                // The original treated "" as no endpoint (`if config.endpoint`); keep that, but say so.
                complaint = "";
                note = "is empty; hits will only be logged";
                return true;
            }

            if (PostgresUri.IsPostgresUri(value.Text))
            {
                PostgresUriResult parsed = PostgresUri.Parse(value.Text);
                if (parsed.Endpoint is null)
                {
                    // The parser's lines never hold the password.
                    complaint = $"is not a usable PostgreSQL URI ({got}): {string.Join("; ", parsed.Errors)}";
                    return false;
                }

                note = parsed.Warnings.Count == 0 ? null : "is read with a warning: " + string.Join("; ", parsed.Warnings);
                result = new EndpointAddress { Kind = EndpointKind.Postgres, Text = value.Text, Postgres = parsed.Endpoint };
                complaint = "";
                return true;
            }

            if (!Uri.TryCreate(value.Text, UriKind.Absolute, out Uri? uri) || uri.Host.Length == 0)
            {
                // The parser refuses a host name with an empty label without saying why: say it.
                complaint = WrittenHost(value.Text) is { Length: > 0 } written && DnsName.Problem(written) is { } unreachable
                    ? unreachable
                    : $"must be {What} with a host (got {got})";
                return false;
            }

            if (uri.HostNameType is UriHostNameType.Dns or UriHostNameType.Basic && DnsName.Problem(uri.IdnHost) is { } problem)
            {
                complaint = problem;
                return false;
            }

            if (RedisEndpoint.IsRedis(uri))
            {
                var warnings = new List<string>();
                if (!RedisEndpoint.TryParse(uri, warnings, out RedisEndpoint redis, out string error))
                {
                    complaint = "is not a usable Redis URL: " + error;
                    return false;
                }

                note = warnings.Count == 0 ? null : "is read with a warning: " + string.Join("; ", warnings);
                result = new EndpointAddress { Kind = EndpointKind.Redis, Text = value.Text, Uri = uri, Redis = redis };
                complaint = "";
                return true;
            }

            if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            {
                complaint = $"must be {What} with a host (got {got})";
                return false;
            }

            if (uri.UserInfo.Length > 0)
            {
                // Credentials in the URL would be silently dropped by the flush request; refuse rather than leave the
                // receiver rejecting every batch. The value is not echoed: it holds a password.
                complaint = "must not contain a user name or password (use \"secret\")";
                return false;
            }

            result = new EndpointAddress { Kind = EndpointKind.Http, Text = value.Text, Uri = uri };
            complaint = "";
            return true;
        },
        static value => value is null ? "" : value.Shown);

    /// <summary>The host of an http(s) URL as written, for a URL the parser refused; "" when there is none to show.</summary>
    private static string WrittenHost(string url)
    {
        int start = url.IndexOf("://", StringComparison.Ordinal);
        if (start < 0 || !(url.AsSpan(0, start).Equals("http", StringComparison.OrdinalIgnoreCase)
            || url.AsSpan(0, start).Equals("https", StringComparison.OrdinalIgnoreCase)))
        {
            return "";
        }

        ReadOnlySpan<char> authority = url.AsSpan(start + 3);
        int end = authority.IndexOfAny('/', '?', '#');
        authority = end < 0 ? authority : authority[..end];
        authority = authority[(authority.LastIndexOf('@') + 1)..];
        if (authority.StartsWith("["))
        {
            return "";
        }

        int colon = authority.IndexOf(':');
        return (colon < 0 ? authority : authority[..colon]).ToString();
    }

    /// <summary>
    /// A list of at most <paramref name="maxItems"/> strings, each accepted by <paramref name="item"/>, which returns
    /// null for a good item and otherwise what it must be ("a key pattern such as \"home-*\""). The list is kept in
    /// the order written.
    /// </summary>
    public static ConfigType<IReadOnlyList<string>> StringList(int maxItems, Func<string, string?> item) => new(
        (in ConfigValue value, out IReadOnlyList<string> result, out string complaint, out string? note) =>
        {
            note = null;
            result = [];
            string what = Invariant($"a list of at most {maxItems} strings");
            if (value.Kind != ConfigValueKind.Array || value.Items is null)
            {
                return Check(false, value, what, out complaint);
            }

            if (value.Items.Count > maxItems)
            {
                complaint = Invariant($"must be {what} (got {value.Items.Count})");
                return false;
            }

            var list = new string[value.Items.Count];
            for (int i = 0; i < list.Length; i++)
            {
                ConfigValue one = value.Items[i];
                string? must = one.Kind == ConfigValueKind.String ? item(one.Text) : "a string";
                if (must is not null)
                {
                    complaint = Invariant($"item {i + 1} must be {must} (got {one.Got})");
                    return false;
                }

                list[i] = one.Text;
            }

            result = list;
            complaint = "";
            return true;
        },
        static value => string.Join(", ", value.Select(Quoting.Quote)),
        takesList: true);

    private static bool Check(bool ok, in ConfigValue value, string what, out string complaint)
    {
        complaint = ok ? "" : $"must be {what} (got {value.Got})";
        return ok;
    }
}
