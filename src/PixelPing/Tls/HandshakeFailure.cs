using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Tls;

/// <summary>
/// Why a flush's TLS handshake with the endpoint failed, in the words of the log line: the certificate checks that
/// refused the endpoint, or what broke the handshake before any certificate was checked.
/// </summary>
internal static class HandshakeFailure
{
    // The chain statuses a refused endpoint certificate usually has, in words; any other is named by its flag.
    private static readonly (X509ChainStatusFlags Flag, string Problem)[] s_chainProblems =
    [
        (X509ChainStatusFlags.UntrustedRoot, "it chains to a CA that is not trusted"),
        (X509ChainStatusFlags.PartialChain, "its issuer is unknown (a missing intermediate, or a CA that is not trusted)"),
        (X509ChainStatusFlags.NotTimeValid, "it or a certificate of its chain has expired or is not valid yet"),
        (X509ChainStatusFlags.Revoked, "it is revoked"),
        (X509ChainStatusFlags.NotSignatureValid, "a signature in its chain is invalid"),
    ];

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
            X509ChainStatusFlags known = X509ChainStatusFlags.NoError;
            foreach ((X509ChainStatusFlags flag, string problem) in s_chainProblems)
            {
                known |= flag;
                if (chain.HasFlag(flag))
                {
                    problems.Add(problem);
                }
            }

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
