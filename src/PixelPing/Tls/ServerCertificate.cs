using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Tls;

/// <summary>
/// The HTTPS side of the listening port: the certificate, its private key and the chain to send, loaded from the
/// PEM files the config names, and the server handshake. SIGHUP swaps the whole set at once, so a handshake sees
/// either the old set or the new one, and connections already open carry on with what they negotiated.
/// </summary>
internal sealed class ServerCertificate
{
    private readonly string _file;
    private readonly string _keyPath;
    private readonly string _certPath;
    private readonly string? _caPath;
    private readonly Lock _reloadLock = new();

    private volatile SslServerAuthenticationOptions _options;

    private ServerCertificate(string file, string keyPath, string certPath, string? caPath, SslServerAuthenticationOptions options)
    {
        _file = file;
        _keyPath = keyPath;
        _certPath = certPath;
        _caPath = caPath;
        _options = options;
    }

    /// <summary>The certificate new connections are served, with its private key.</summary>
    public X509Certificate2 Certificate => _options.ServerCertificateContext!.TargetCertificate;

    /// <summary>
    /// Loads and checks the files. <paramref name="file"/> is the config file, named first in every message.
    /// A certificate outside its validity period is a warning: the server still starts, and says so.
    /// </summary>
    public static ServerCertificate? TryLoad(string file, string keyPath, string certPath, string? caPath, List<string> warnings, out string error)
    {
        ArgumentNullException.ThrowIfNull(warnings);
        if (!TryBuild(file, keyPath, certPath, caPath, warnings, out SslServerAuthenticationOptions? options, out error))
        {
            return null;
        }

        return new ServerCertificate(file, keyPath, certPath, caPath, options);
    }

    /// <summary>Loads the files again; on success new handshakes use them, on failure nothing changes.</summary>
    public bool TryReload(List<string> warnings, out string error)
    {
        lock (_reloadLock)
        {
            if (!TryBuild(_file, _keyPath, _certPath, _caPath, warnings, out SslServerAuthenticationOptions? options, out error))
            {
                return false;
            }

            // The old context is left to the collector: a handshake that read it a moment ago may still be using it.
            _options = options;
            return true;
        }
    }

    /// <summary>SIGHUP: reload and log the outcome in one line (plus one per warning).</summary>
    public void Reload()
    {
        var warnings = new List<string>();
        bool reloaded = TryReload(warnings, out string error);
        Log.Warnings(warnings);

        if (reloaded)
        {
            Log.Out("TLS certificate reloaded: " + Describe());
        }
        else
        {
            Log.Error("--- TLS certificate not reloaded, the old one stays in use: " + error);
        }
    }

    /// <summary>The subject, the end of validity and how many chain certificates are sent, for logs and --check.</summary>
    public string Describe()
    {
        SslStreamCertificateContext context = _options.ServerCertificateContext!;
        int count = context.IntermediateCertificates.Count;
        return $"{context.TargetCertificate.Subject}, valid until {Date(context.TargetCertificate.NotAfter)}, " +
            (count == 1 ? "1 chain certificate sent" : count.ToString(CultureInfo.InvariantCulture) + " chain certificates sent");
    }

    /// <summary>
    /// The server side of the handshake over <paramref name="inner"/>; null when it fails, which is not an error worth
    /// a log line (port scanners, plain HTTP, clients that give up). The caller's deadline bounds it: closing the
    /// socket ends a handshake that stalls.
    /// </summary>
    public async Task<SslStream?> AuthenticateAsync(Stream inner)
    {
        // The caller owns the socket and closes it after counting the outcome, so that nobody sees the connection
        // gone before its handshake is counted.
        var ssl = new SslStream(inner, leaveInnerStreamOpen: true);
        try
        {
            await ssl.AuthenticateAsServerAsync(_options, CancellationToken.None).ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    private static bool TryBuild(string file, string keyPath, string certPath, string? caPath, List<string> warnings,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SslServerAuthenticationOptions? options, out string error)
    {
        options = null;
        error = "";
        // First, before .NET sets up its TLS layer (which reads OpenSSL's default cipher list once). Never served
        // with the CBC suites: without the list, no HTTPS.
        if (!TlsSuites.Applied)
        {
            error = $"{file}: \"sslcert\": OpenSSL refused to limit TLS 1.2 to ECDHE with AES-GCM or ChaCha20-Poly1305, " +
                "so HTTPS is not served (is the system's OpenSSL older than 3.0?)";
            return false;
        }

        if (!PemFile.TryReadCertificates(certPath, out X509Certificate2Collection certificates, out string reason))
        {
            error = $"{file}: \"sslcert\" {certPath}: {reason}";
            return false;
        }

        // A "fullchain.pem" (as certbot writes it) holds the certificate and then its chain; both files feed the chain.
        X509Certificate2 leaf = certificates[0];
        var chain = new X509Certificate2Collection();
        for (int i = 1; i < certificates.Count; i++)
        {
            chain.Add(certificates[i]);
        }

        if (caPath is not null)
        {
            if (!PemFile.TryReadCertificates(caPath, out X509Certificate2Collection authorities, out reason))
            {
                error = $"{file}: \"sslca\" {caPath}: {reason}";
                return false;
            }

            chain.AddRange(authorities);
        }

        if (!PemFile.TryReadPrivateKey(keyPath, out AsymmetricAlgorithm? key, out reason))
        {
            error = $"{file}: \"sslkey\" {keyPath}: {reason}";
            return false;
        }

        X509Certificate2 withKey;
        using (key)
        {
            if (!Matches(leaf, key!))
            {
                error = $"{file}: \"sslkey\" {keyPath}: the private key does not match the certificate in {certPath}";
                return false;
            }

            withKey = key is RSA rsa ? leaf.CopyWithPrivateKey(rsa) : leaf.CopyWithPrivateKey((ECDsa)key!);
        }

        DateTime now = DateTime.Now;
        if (withKey.NotAfter < now)
        {
            warnings.Add($"{file}: \"sslcert\" {certPath}: the certificate expired on {Date(withKey.NotAfter)}; clients will refuse it");
        }
        else if (withKey.NotBefore > now)
        {
            warnings.Add($"{file}: \"sslcert\" {certPath}: the certificate is not valid until {Date(withKey.NotBefore)}; clients will refuse it");
        }

        SslStreamCertificateContext context;
        try
        {
            // offline: the chain is built from the files only, never by fetching issuers named in the certificate.
            context = SslStreamCertificateContext.Create(withKey, chain, offline: true);
        }
        catch (CryptographicException)
        {
            error = $"{file}: \"sslcert\" {certPath}: the certificate cannot be used for TLS with this key";
            return false;
        }

        options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = context,
            // TLS 1.0 and 1.1 are refused even where the system's OpenSSL would still allow them: RFC 8996 deprecates both.
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            // A client-initiated renegotiation is a cheap way to make the server do handshake work again.
            AllowRenegotiation = false,
        };
        return true;
    }

    /// <summary>True when the private key is the one whose public half the certificate carries.</summary>
    internal static bool Matches(X509Certificate2 certificate, AsymmetricAlgorithm key)
    {
        switch (key)
        {
            case RSA rsa:
            {
                using RSA? expected = certificate.GetRSAPublicKey();
                if (expected is null)
                {
                    return false;
                }

                RSAParameters a = expected.ExportParameters(includePrivateParameters: false);
                RSAParameters b = rsa.ExportParameters(includePrivateParameters: false);
                return a.Modulus.AsSpan().SequenceEqual(b.Modulus) && a.Exponent.AsSpan().SequenceEqual(b.Exponent);
            }

            case ECDsa ec:
            {
                using ECDsa? expected = certificate.GetECDsaPublicKey();
                if (expected is null || expected.KeySize != ec.KeySize)
                {
                    return false;
                }

                ECParameters a = expected.ExportParameters(includePrivateParameters: false);
                ECParameters b = ec.ExportParameters(includePrivateParameters: false);
                return a.Q.X.AsSpan().SequenceEqual(b.Q.X) && a.Q.Y.AsSpan().SequenceEqual(b.Q.Y);
            }

            default:
                return false;
        }
    }

    internal static string Date(DateTime value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
