using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Tls;

/// <summary>
/// The client handshake with an endpoint (an <c>https://</c> receiver, a <c>rediss://</c> server): TLS 1.2 or 1.3,
/// system trust with nothing fetched (the endpoint sends its intermediates, and no flush waits on a download or a
/// revocation lookup; <c>endpointca</c> replaces this policy with its own, also offline), and the reason kept when the
/// handshake fails, so that the log line says why.
/// </summary>
internal sealed class EndpointHandshake(string host)
{
    private SslPolicyErrors _verification;
    private X509ChainStatusFlags _chainStatus;

    public async Task AuthenticateAsync(
        SslStream ssl, Func<SslClientAuthenticationOptions, SslClientAuthenticationOptions>? tls, CancellationToken cancellation)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateChainPolicy = new X509ChainPolicy
            {
                DisableCertificateDownloads = true,
                RevocationMode = X509RevocationMode.NoCheck,
            },
            // The decision is SslStream's own (any error fails); the callback only keeps the reason for the log.
            RemoteCertificateValidationCallback = (_, _, chain, errors) =>
            {
                _verification = errors;
                _chainStatus = HandshakeFailure.ChainStatus(chain);
                return errors == SslPolicyErrors.None;
            },
        };
        if (tls is not null)
        {
            options = tls(options);
        }

        await ssl.AuthenticateAsClientAsync(options, cancellation).ConfigureAwait(false);
    }

    /// <summary>Why the handshake failed: the certificate's verification when that failed, else the handshake itself.</summary>
    public string Describe(AuthenticationException e) => _verification != SslPolicyErrors.None
        ? HandshakeFailure.DescribeVerification(_verification, _chainStatus, host)
        : HandshakeFailure.DescribeHandshake(e);
}
