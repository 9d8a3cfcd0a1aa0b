using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// RFC 5929 §4.1 <c>tls-server-end-point</c> channel binding data: the hash of the server's certificate (its DER
/// bytes), with the hash function of the certificate's own signature algorithm, except that MD5 and SHA-1 are replaced
/// by SHA-256. PostgreSQL computes the same on its side (SCRAM-SHA-256-PLUS), so a man in the middle holding another
/// certificate makes the SCRAM proof fail.
/// </summary>
internal static class TlsServerEndPoint
{
    /// <summary>
    /// The binding data, or null for a signature algorithm without a single hash to use (RSASSA-PSS, whose hash is in
    /// its parameters; EdDSA; SHA-224, which the runtime lacks); such a server cannot be bound to.
    /// </summary>
    public static byte[]? Hash(X509Certificate2 certificate)
    {
        HashAlgorithmName? algorithm = HashOf(certificate.SignatureAlgorithm.Value);
        if (algorithm is not { } name)
        {
            return null;
        }

        byte[] der = certificate.RawData;
        return name == HashAlgorithmName.SHA384 ? SHA384.HashData(der)
            : name == HashAlgorithmName.SHA512 ? SHA512.HashData(der)
            : SHA256.HashData(der);
    }

    /// <summary>The hash for a signature algorithm's OID; null when there is none to use.</summary>
    public static HashAlgorithmName? HashOf(string? signatureOid) => signatureOid switch
    {
        // MD5 and SHA-1 (RSA, ECDSA, DSA): SHA-256 instead (RFC 5929 §4.1).
        "1.2.840.113549.1.1.4" or "1.2.840.113549.1.1.5" or "1.2.840.10045.4.1" or "1.2.840.10040.4.3" => HashAlgorithmName.SHA256,
        "1.2.840.113549.1.1.11" or "1.2.840.10045.4.3.2" or "2.16.840.1.101.3.4.3.2" => HashAlgorithmName.SHA256,
        "1.2.840.113549.1.1.12" or "1.2.840.10045.4.3.3" => HashAlgorithmName.SHA384,
        "1.2.840.113549.1.1.13" or "1.2.840.10045.4.3.4" => HashAlgorithmName.SHA512,
        _ => null,
    };
}
