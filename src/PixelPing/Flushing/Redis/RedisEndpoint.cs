using System.Globalization;
using System.Net;
using PixelPing.Common;
using PixelPing.Config;

namespace PixelPing.Flushing.Redis;

/// <summary>
/// A Redis endpoint: <c>redis://[user][:password]@host[:port][/db]</c>, or <c>rediss://</c> for TLS, as the
/// provisional IANA <c>redis</c> and <c>rediss</c> URI schemes write it. The port defaults to 6379 and the database to
/// 0. Not a record, so that nothing prints the password by accident; messages never include it.
/// </summary>
internal sealed class RedisEndpoint
{
    public const int DefaultPort = 6379;

    private RedisEndpoint(string host, int port, bool tls, string? user, string? password, int database)
    {
        Host = host;
        Port = port;
        Tls = tls;
        User = user;
        Password = password;
        Database = database;
    }

    /// <summary>A name or an address, IPv6 without its brackets.</summary>
    public string Host { get; }

    public int Port { get; }

    public bool Tls { get; }

    /// <summary>The ACL user (Redis 6 and later); null for the default user.</summary>
    public string? User { get; }

    /// <summary>null: no <c>AUTH</c>.</summary>
    public string? Password { get; }

    public int Database { get; }

    /// <summary>True for the two schemes this reads.</summary>
    public static bool IsRedis(Uri uri) => uri.Scheme is "redis" or "rediss";

    /// <summary>
    /// Reads the URI; one line in <paramref name="error"/> when it cannot be used, and warnings for what works but
    /// should not be so. No message holds the user information.
    /// </summary>
    public static bool TryParse(Uri uri, List<string> warnings, out RedisEndpoint endpoint, out string error)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(warnings);
        endpoint = null!;
        string shown = LogEscape.Text(EndpointText.Redact(uri.OriginalString));
        if (!IsRedis(uri))
        {
            error = $"{shown} is not a redis:// or rediss:// URL";
            return false;
        }

        string host = uri.Host.Trim('[', ']');
        if (host.Length == 0)
        {
            error = $"{shown} has no host (redis://[user][:password]@host[:port][/db])";
            return false;
        }

        if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            error = $"{shown}: a Redis endpoint takes no query or fragment (redis://[user][:password]@host[:port][/db])";
            return false;
        }

        int port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port;
        if (port == 0)
        {
            error = $"{shown}: the port must be from 1 to 65535";
            return false;
        }

        string path = uri.AbsolutePath.TrimStart('/');
        int database = 0;
        if (path.Length > 0 && (!path.All(char.IsAsciiDigit) || !int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out database)))
        {
            error = $"{shown}: the path must be the database number, such as /0 (got {Quoting.Quote(Uri.UnescapeDataString(path))})";
            return false;
        }

        string? user = null;
        string? password = null;
        if (uri.UserInfo.Length > 0)
        {
            int colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                // "redis://name@host" names a user without a password, with which AUTH cannot be sent.
                error = $"{shown}: the user information has no password (redis://user:password@host, or redis://:password@host for the default user)";
                return false;
            }

            user = colon == 0 ? null : Uri.UnescapeDataString(uri.UserInfo[..colon]);
            password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            if (user is null && password.Length == 0)
            {
                // "redis://:@host": no credentials at all.
                password = null;
            }

            bool tls = uri.Scheme == "rediss";
            if (password is not null && !tls && !EndpointText.IsLoopback(uri))
            {
                warnings.Add($"{shown}: the Redis password travels in clear over redis:// to another machine (use rediss://)");
            }
        }

        endpoint = new RedisEndpoint(host, port, uri.Scheme == "rediss", user, password, database);
        error = "";
        return true;
    }
}
