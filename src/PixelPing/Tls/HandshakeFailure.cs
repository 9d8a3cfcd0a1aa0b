using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Tls;

/// <summary>
/// Why a flush's TLS handshake with the endpoint failed, in the words of the log line: the certificate checks that
/// refused the endpoint, or what broke the handshake before any certificate was checked.
/// </summary>
internal static class HandshakeFailure
{
    /// <summary>Every status the chain reported, as one set of flags.</summary>
    public static X509ChainStatusFlags ChainStatus(X509Chain? chain)
    {
        X509ChainStatusFlags flags = X509ChainStatusFlags.NoError;
        if (chain is not null)
        {
            foreach (X509ChainStatus status in chain.ChainStatus)
            {
                flags |= status.Status;
            }
        }

        return flags;
    }

    /// <summary>Why the endpoint's certificate was refused, in words: the runtime says only that the chain or the name failed.</summary>
    public static string DescribeVerification(SslPolicyErrors errors, X509ChainStatusFlags chain, string host)
    {
        var reasons = new List<string>(3);
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            reasons.Add("the endpoint sent no certificate");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var problems = new List<string>(2);
            if (chain.HasFlag(X509ChainStatusFlags.UntrustedRoot))
            {
                problems.Add("it chains to a CA that is not trusted");
            }

            if (chain.HasFlag(X509ChainStatusFlags.PartialChain))
            {
                problems.Add("its issuer is unknown (a missing intermediate, or a CA that is not trusted)");
            }

            if (chain.HasFlag(X509ChainStatusFlags.NotTimeValid))
            {
                problems.Add("it or a certificate of its chain has expired or is not valid yet");
            }

            if (chain.HasFlag(X509ChainStatusFlags.Revoked))
            {
                problems.Add("it is revoked");
            }

            if (chain.HasFlag(X509ChainStatusFlags.NotSignatureValid))
            {
                problems.Add("a signature in its chain is invalid");
            }

            X509ChainStatusFlags known = X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain |
                X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.Revoked | X509ChainStatusFlags.NotSignatureValid;
            if (problems.Count == 0 || (chain & ~known) != 0)
            {
                problems.Add("chain status " + (chain & ~known).ToString());
            }

            reasons.Add("certificate not trusted: " + string.Join(", ", problems));
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            reasons.Add($"the certificate is not valid for the host name {host}");
        }

        return "TLS certificate verification failed: " + string.Join("; ", reasons);
    }

    /// <summary>
    /// A handshake that failed before any certificate was checked. The runtime's words for the two common causes speak
    /// of frames and transport streams, so those are said as what they mean here; OpenSSL's own error text is readable
    /// as it is.
    /// </summary>
    public static string DescribeHandshake(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        string reason = e.Message switch
        {
            "Cannot determine the frame size or a corrupted frame was received." =>
                "the endpoint does not speak TLS on this port (a plain http:// server?)",
            "Received an unexpected EOF or 0 bytes from the transport stream." =>
                "the endpoint closed the connection during the handshake",
            _ => e.Message.ReplaceLineEndings(" "),
        };
        return "TLS handshake failed: " + reason;
    }
}
