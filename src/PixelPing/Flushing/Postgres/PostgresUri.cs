using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PixelPing.Tls;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// Reads a <c>postgresql://</c> or <c>postgres://</c> URI as libpq does: <c>user:password@host:port/dbname?k=v&amp;…</c>,
/// every part percent-decoded; <c>host</c>, <c>port</c>, <c>user</c>, <c>password</c> and <c>dbname</c> may also be
/// given as parameters, which win. A host starting with <c>/</c> (written <c>%2F…</c>, or as <c>?host=/dir</c>) is the
/// directory of the server's Unix socket. A parameter libpq knows that this client does not implement is a warning
/// naming it; one libpq does not know is an error, as libpq makes it.
/// </summary>
internal static class PostgresUri
{
    /// <summary>libpq's default when no host is given: the Unix socket directory of Debian's PostgreSQL packages.</summary>
    public const string DefaultSocketDirectory = "/var/run/postgresql";

    // The parameters libpq (up to PostgreSQL 18) knows and this client does not act on: said, and otherwise ignored.
    private static readonly HashSet<string> s_ignored = new(StringComparer.Ordinal)
    {
        "hostaddr", "passfile", "require_auth", "keepalives", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslnegotiation", "sslcompression",
        "sslpassword", "sslcertmode", "sslcrl", "sslcrldir", "sslkeylogfile", "requirepeer", "ssl_min_protocol_version",
        "ssl_max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service", "target_session_attrs",
        "load_balance_hosts", "min_protocol_version", "max_protocol_version", "oauth_issuer", "oauth_client_id",
        "oauth_client_secret", "oauth_scope", "scram_client_key", "scram_server_key",
    };

    private static readonly HashSet<string> s_implemented = new(StringComparer.Ordinal)
    {
        "host", "port", "dbname", "user", "password", "sslmode", "sslrootcert", "sslcert", "sslkey", "channel_binding",
        "application_name", "fallback_application_name", "connect_timeout", "options", "client_encoding", "sslsni", "ssl",
    };

    public static bool IsPostgresUri(string text) =>
        text.StartsWith("postgresql://", StringComparison.Ordinal) || text.StartsWith("postgres://", StringComparison.Ordinal);

    public static PostgresUriResult Parse(string text)
    {
        var errors = new List<string>();
        var warnings = new List<string>();
        PostgresEndpoint? endpoint = Read(text, errors, warnings);
        return new PostgresUriResult { Endpoint = errors.Count == 0 ? endpoint : null, Errors = errors, Warnings = warnings };
    }

    private static PostgresEndpoint? Read(string text, List<string> errors, List<string> warnings)
    {
        if (!IsPostgresUri(text))
        {
            errors.Add("a PostgreSQL endpoint starts with postgresql:// or postgres://");
            return null;
        }

        string rest = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..];

        string? query = null;
        int question = rest.IndexOf('?', StringComparison.Ordinal);
        if (question >= 0)
        {
            query = rest[(question + 1)..];
            rest = rest[..question];
        }

        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        string authority = slash < 0 ? rest : rest[..slash];
        string? path = slash < 0 ? null : rest[(slash + 1)..];

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        int at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            string userInfo = authority[..at];
            authority = authority[(at + 1)..];
            int colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            Put(values, "user", colon < 0 ? userInfo : userInfo[..colon], "the user name", errors);
            if (colon >= 0)
            {
                Put(values, "password", userInfo[(colon + 1)..], "the password", errors);
            }
        }

        if (authority.Contains(',', StringComparison.Ordinal))
        {
            errors.Add("several hosts are not supported: name one host");
            return null;
        }

        string hostText = authority;
        string? portText = null;
        if (authority.StartsWith('['))
        {
            int close = authority.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < authority.Length && authority[close + 1] != ':'))
            {
                errors.Add("the IPv6 address in the URI needs its closing ] (then :port, if any)");
                return null;
            }

            hostText = authority[1..close];
            portText = close + 1 < authority.Length ? authority[(close + 2)..] : null;
        }
        else if (authority.IndexOf(':', StringComparison.Ordinal) is int colon and >= 0)
        {
            hostText = authority[..colon];
            portText = authority[(colon + 1)..];
        }

        if (hostText.Length > 0)
        {
            Put(values, "host", hostText, "the host", errors);
        }

        if (portText is { Length: > 0 })
        {
            Put(values, "port", portText, "the port", errors);
        }

        if (path is { Length: > 0 })
        {
            Put(values, "dbname", path, "the database name", errors);
        }

        if (query is { Length: > 0 })
        {
            foreach (string pair in query.Split('&'))
            {
                int equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals < 0)
                {
                    errors.Add($"the parameter {Quoting.Quote(pair)} has no =value");
                    continue;
                }

                if (!TryDecode(pair[..equals], out string name))
                {
                    errors.Add($"a parameter name has a bad %-escape: {Quoting.Quote(pair[..equals])}");
                    continue;
                }

                if (!s_implemented.Contains(name) && !s_ignored.Contains(name))
                {
                    errors.Add($"{Quoting.Quote(name)} is not a PostgreSQL connection parameter");
                    continue;
                }

                if (s_ignored.Contains(name))
                {
                    warnings.Add($"the connection parameter {name} is not supported by pixel-ping and is ignored");
                    continue;
                }

                Put(values, name, pair[(equals + 1)..], "the value of " + name, errors);
            }
        }

        if (errors.Count > 0)
        {
            return null;
        }

        return Build(values, errors, warnings);
    }

    private static PostgresEndpoint? Build(Dictionary<string, string> values, List<string> errors, List<string> warnings)
    {
        string host = values.GetValueOrDefault("host") is { Length: > 0 } h ? h : DefaultSocketDirectory;
        int port = 5432;
        if (values.TryGetValue("port", out string? portValue) &&
            (!int.TryParse(portValue, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            errors.Add($"the port {Quoting.Quote(portValue)} is not a number from 1 to 65535");
        }

        // libpq's defaults: the operating system's user name, and a database named after the user.
        string user = values.GetValueOrDefault("user") is { Length: > 0 } u ? u : Environment.UserName;
        string database = values.GetValueOrDefault("dbname") is { Length: > 0 } d ? d : user;

        SslMode ssl = SslMode.Prefer;
        if (values.TryGetValue("ssl", out string? jdbc))
        {
            // libpq's JDBC compatibility: ssl=true is sslmode=require; nothing else is accepted.
            if (jdbc == "true")
            {
                ssl = SslMode.Require;
            }
            else
            {
                errors.Add($"the parameter ssl only takes the value true (got {Quoting.Quote(jdbc)}); use sslmode");
            }
        }

        if (values.TryGetValue("sslmode", out string? mode))
        {
            switch (mode)
            {
                case "disable": ssl = SslMode.Disable; break;
                case "prefer": ssl = SslMode.Prefer; break;
                case "require": ssl = SslMode.Require; break;
                case "verify-ca": ssl = SslMode.VerifyCa; break;
                case "verify-full": ssl = SslMode.VerifyFull; break;
                case "allow":
                    // allow tries plain first, then TLS: nearest here is prefer, which tries TLS first.
                    ssl = SslMode.Prefer;
                    warnings.Add("sslmode=allow is not supported and is read as sslmode=prefer (TLS first, plain if the server refuses)");
                    break;
                default:
                    errors.Add($"sslmode {Quoting.Quote(mode)} is not one of disable, prefer, require, verify-ca, verify-full");
                    break;
            }
        }

        ChannelBindingMode binding = ChannelBindingMode.Prefer;
        if (values.TryGetValue("channel_binding", out string? cb))
        {
            switch (cb)
            {
                case "disable": binding = ChannelBindingMode.Disable; break;
                case "prefer": binding = ChannelBindingMode.Prefer; break;
                case "require": binding = ChannelBindingMode.Require; break;
                default:
                    errors.Add($"channel_binding {Quoting.Quote(cb)} is not one of disable, prefer, require");
                    break;
            }
        }

        if (binding == ChannelBindingMode.Require && ssl == SslMode.Disable)
        {
            errors.Add("channel_binding=require needs TLS, and sslmode=disable turns it off");
        }

        TimeSpan? connectTimeout = null;
        if (values.TryGetValue("connect_timeout", out string? timeoutText))
        {
            if (!int.TryParse(timeoutText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int seconds))
            {
                errors.Add($"connect_timeout {Quoting.Quote(timeoutText)} is not a whole number of seconds");
            }
            else if (seconds > 0)
            {
                // libpq: zero or less waits without a limit (here the flush's timeout still bounds it); 1 is taken as 2.
                connectTimeout = TimeSpan.FromSeconds(Math.Max(2, seconds));
            }
        }

        if (values.TryGetValue("client_encoding", out string? encoding) &&
            !encoding.Equals("UTF8", StringComparison.OrdinalIgnoreCase) && !encoding.Equals("UTF-8", StringComparison.OrdinalIgnoreCase) &&
            !encoding.Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            warnings.Add($"client_encoding={LogEscape.Text(encoding)} is ignored: pixel-ping always talks UTF8");
        }

        if (values.GetValueOrDefault("sslsni") == "0")
        {
            warnings.Add("sslsni=0 is not supported and is ignored: the host name is always sent in the TLS handshake");
        }

        X509Certificate2Collection? roots = null;
        if (values.TryGetValue("sslrootcert", out string? rootPath) && rootPath != "system")
        {
            if (PemFile.TryReadCertificates(rootPath, out X509Certificate2Collection read, out string reason))
            {
                roots = read;
                // libpq: with a root certificate file, require verifies the chain as verify-ca does.
                if (ssl == SslMode.Require)
                {
                    ssl = SslMode.VerifyCa;
                }
            }
            else
            {
                errors.Add($"sslrootcert {LogEscape.Text(rootPath)}: {reason}");
            }
        }

        X509Certificate2? clientCertificate = null;
        X509Certificate2Collection clientChain = [];
        bool hasCert = values.TryGetValue("sslcert", out string? certPath);
        bool hasKey = values.TryGetValue("sslkey", out string? keyPath);
        if (hasCert != hasKey)
        {
            errors.Add("sslcert and sslkey go together: give both files or neither");
        }
        else if (hasCert)
        {
            clientCertificate = ReadClientCertificate(certPath!, keyPath!, clientChain, errors);
        }

        string application = values.GetValueOrDefault("application_name") is { Length: > 0 } name ? name
            : values.GetValueOrDefault("fallback_application_name") is { Length: > 0 } fallback ? fallback
            : "pixel-ping";

        var endpoint = new PostgresEndpoint
        {
            Host = host,
            Port = port,
            User = user,
            Password = values.GetValueOrDefault("password") is { Length: > 0 } p ? p : null,
            Database = database,
            SslMode = ssl,
            RootCertificates = roots,
            ClientCertificate = clientCertificate,
            ClientChain = clientChain,
            ChannelBinding = binding,
            ApplicationName = application,
            ConnectTimeout = connectTimeout,
            Options = values.GetValueOrDefault("options"),
        };

        if (!endpoint.IsLocal && ssl != SslMode.VerifyFull)
        {
            warnings.Add(ssl == SslMode.Disable
                ? $"sslmode=disable sends the password and the counts to {LogEscape.Text(host)} in clear: use sslmode=verify-full"
                : $"sslmode={Name(ssl)} does not check that the server is {LogEscape.Text(host)}, so anyone on the way can pose as it: use sslmode=verify-full (with sslrootcert for a private CA)");
        }

        return endpoint;
    }

    private static X509Certificate2? ReadClientCertificate(string certPath, string keyPath, X509Certificate2Collection chain, List<string> errors)
    {
        if (!PemFile.TryReadCertificates(certPath, out X509Certificate2Collection certificates, out string reason))
        {
            errors.Add($"sslcert {LogEscape.Text(certPath)}: {reason}");
            return null;
        }

        if (!PemFile.TryReadPrivateKey(keyPath, out AsymmetricAlgorithm? key, out reason))
        {
            errors.Add($"sslkey {LogEscape.Text(keyPath)}: {reason}");
            return null;
        }

        using (key)
        {
            try
            {
                X509Certificate2 withKey = key switch
                {
                    RSA rsa => certificates[0].CopyWithPrivateKey(rsa),
                    ECDsa ecdsa => certificates[0].CopyWithPrivateKey(ecdsa),
                    _ => throw new CryptographicException(),
                };
                for (int i = 1; i < certificates.Count; i++)
                {
                    chain.Add(certificates[i]);
                }

                return withKey;
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                errors.Add($"sslkey {LogEscape.Text(keyPath)} is not the key of the certificate in sslcert {LogEscape.Text(certPath)}");
                return null;
            }
        }
    }

    public static string Name(SslMode mode) => mode switch
    {
        SslMode.Disable => "disable",
        SslMode.Prefer => "prefer",
        SslMode.Require => "require",
        SslMode.VerifyCa => "verify-ca",
        _ => "verify-full",
    };

    private static void Put(Dictionary<string, string> values, string name, string encoded, string what, List<string> errors)
    {
        if (TryDecode(encoded, out string decoded) && !decoded.Contains('\0', StringComparison.Ordinal))
        {
            values[name] = decoded;
        }
        else
        {
            // Never the text itself: it may be the password.
            errors.Add($"{what} has a bad %-escape (each % starts two hex digits, %00 is not allowed, and the bytes must be UTF-8)");
        }
    }

    /// <summary>Percent-decoding as libpq does it: <c>%XX</c> of either case, no <c>%00</c>, and <c>+</c> is a plus.</summary>
    private static bool TryDecode(string encoded, out string decoded)
    {
        decoded = encoded;
        if (!encoded.Contains('%', StringComparison.Ordinal))
        {
            return true;
        }

        byte[] utf8 = Encoding.UTF8.GetBytes(encoded);
        int written = 0;
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] != (byte)'%')
            {
                utf8[written++] = utf8[i];
                continue;
            }

            if (!PercentEncoding.TryDecodeEscape(utf8.AsSpan(i), upperCaseOnly: false, out byte value) || value == 0)
            {
                return false;
            }

            utf8[written++] = value;
            i += 2;
        }

        if (!System.Text.Unicode.Utf8.IsValid(utf8.AsSpan(0, written)))
        {
            return false;
        }

        decoded = Encoding.UTF8.GetString(utf8, 0, written);
        return true;
    }
}
