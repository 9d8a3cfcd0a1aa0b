using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Tls;

/// <summary>
/// <c>endpointca</c>: the CA certificates an HTTPS endpoint's chain must end in, instead of the system trust store
/// (a private CA, or a container without a CA bundle). The host name is still checked against the certificate.
/// </summary>
internal static class EndpointTrust
{
    /// <summary>Reads the CA file; <paramref name="file"/> is the config file, named first in the message.</summary>
    public static bool TryLoad(string file, string path, List<string> warnings, out X509Certificate2Collection roots, out string error)
    {
        ArgumentNullException.ThrowIfNull(warnings);
        error = "";
        if (!PemFile.TryReadCertificates(path, out roots, out string reason))
        {
            error = $"{file}: \"endpointca\" {path}: {reason}";
            return false;
        }

        DateTime now = DateTime.Now;
        foreach (X509Certificate2 root in roots)
        {
            if (root.NotAfter < now)
            {
                warnings.Add($"{file}: \"endpointca\" {path}: {root.Subject} expired on {ServerCertificate.Date(root.NotAfter)}; chains ending in it will fail");
            }
        }

        return true;
    }

    /// <summary>The <see cref="Flushing.EndpointClient"/> hook that makes its handshakes trust these roots only.</summary>
    public static Func<SslClientAuthenticationOptions, SslClientAuthenticationOptions> TrustOnly(X509Certificate2Collection roots) =>
        options =>
        {
            // A fresh policy per flush: flushes are seconds apart, and nothing is shared between two handshakes.
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                // The endpoint must send its intermediates; fetching them from URLs in the certificate is not done.
                DisableCertificateDownloads = true,
            };
            policy.CustomTrustStore.AddRange(roots);
            options.CertificateChainPolicy = policy;
            return options;
        };
}
