using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// Where and how to connect to PostgreSQL, as <see cref="PostgresUri"/> read it from a <c>postgresql://</c> URI.
/// A class, not a record: a record's generated <c>ToString</c> would print the password.
/// </summary>
internal sealed class PostgresEndpoint
{
    /// <summary>A host name, an IP address, or (starting with <c>/</c>) the directory of the server's Unix socket.</summary>
    public required string Host { get; init; }

    public int Port { get; init; } = 5432;

    public required string User { get; init; }

    public string? Password { get; init; }

    public required string Database { get; init; }

    /// <summary>The mode in force: <c>require</c> with an <c>sslrootcert</c> file is <c>verify-ca</c>, as in libpq.</summary>
    public SslMode SslMode { get; init; } = SslMode.Prefer;

    /// <summary>The roots a verified chain must end in (<c>sslrootcert</c>); null for the system trust store.</summary>
    public X509Certificate2Collection? RootCertificates { get; init; }

    /// <summary>The client certificate with its private key (<c>sslcert</c> and <c>sslkey</c>), if any.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>The certificates after the first in the <c>sslcert</c> file: the client certificate's intermediates.</summary>
    public X509Certificate2Collection ClientChain { get; init; } = [];

    public ChannelBindingMode ChannelBinding { get; init; } = ChannelBindingMode.Prefer;

    public string ApplicationName { get; init; } = "pixel-ping";

    /// <summary><c>connect_timeout</c>; null when not set (the flush's own timeout bounds the connect then).</summary>
    public TimeSpan? ConnectTimeout { get; init; }

    /// <summary><c>options</c>, sent as it is in the startup message (command-line options for the server, <c>-c name=value</c>).</summary>
    public string? Options { get; init; }

    public bool IsUnixSocket => Host.StartsWith('/');

    /// <summary>The Unix socket's path: the server names it after its port in the directory.</summary>
    public string SocketPath => Path.Combine(Host, ".s.PGSQL." + Port.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// True when the host as written is on this machine (a Unix socket, a loopback address, <c>localhost</c>), where a
    /// certificate that is not checked, or a password sent in clear, crosses no network.
    /// </summary>
    public bool IsLocal => IsUnixSocket || IsLoopbackName(Host);

    private static bool IsLoopbackName(string host) =>
        IPAddress.TryParse(host, out IPAddress? address)
            ? IPAddress.IsLoopback(address)
            : host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
}
