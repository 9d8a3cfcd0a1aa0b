using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PixelPing.Config;

namespace PixelPing.Tls;

/// <summary>
/// Every certificate file a config names (<c>sslkey</c>, <c>sslcert</c>, <c>sslca</c>, <c>endpointca</c>), loaded
/// once. The server start and <c>--check</c> both go through here, so they accept and refuse the same files.
/// </summary>
internal sealed class TlsFiles
{
    private TlsFiles(ServerCertificate? server, X509Certificate2Collection? endpointRoots)
    {
        Server = server;
        EndpointRoots = endpointRoots;
    }

    /// <summary>The listening port's certificate; null for plain HTTP.</summary>
    public ServerCertificate? Server { get; }

    /// <summary>The CAs an HTTPS endpoint must chain to; null to use the system trust store.</summary>
    public X509Certificate2Collection? EndpointRoots { get; }

    /// <summary>The hook for <see cref="Flushing.EndpointClient"/>, or null when the system trust store applies.</summary>
    public Func<SslClientAuthenticationOptions, SslClientAuthenticationOptions>? EndpointOptions =>
        EndpointRoots is null ? null : EndpointTrust.TrustOnly(EndpointRoots);

    /// <summary>
    /// Loads what the settings name, as the start and <c>--check</c> both do: warnings (an expired certificate) are
    /// logged and do not stop it; null and one line naming the config, the key, the file and the reason when a file
    /// does not load.
    /// </summary>
    public static TlsFiles? LoadOrExplain(Settings settings, out string error)
    {
        var warnings = new List<string>();
        TlsFiles? files = TryLoad(settings, warnings, out error);
        Log.Warnings(warnings);
        return files;
    }

    private static TlsFiles? TryLoad(Settings settings, List<string> warnings, out string error)
    {
        ArgumentNullException.ThrowIfNull(settings);
        error = "";
        ServerCertificate? server = null;
        if (settings.SslKey is not null && settings.SslCert is not null)
        {
            server = ServerCertificate.TryLoad(settings.ConfigPath, settings.SslKey, settings.SslCert, settings.SslCa, warnings, out error);
            if (server is null)
            {
                return null;
            }
        }

        X509Certificate2Collection? roots = null;
        if (settings.EndpointCa is not null && !EndpointTrust.TryLoad(settings.ConfigPath, settings.EndpointCa, warnings, out roots, out error))
        {
            return null;
        }

        return new TlsFiles(server, roots);
    }

    /// <summary>What <c>--check</c> adds to the settings' description once the files have loaded.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        if (Server is not null)
        {
            text.Append("certificate:    ").Append(Server.Describe()).Append('\n');
        }

        if (EndpointRoots is not null)
        {
            text.Append("endpoint trust: ");
            for (int i = 0; i < EndpointRoots.Count; i++)
            {
                text.Append(i == 0 ? "" : "; ").Append(EndpointRoots[i].Subject);
            }

            text.Append(" (instead of the system trust store)\n");
        }

        return text.ToString();
    }
}
