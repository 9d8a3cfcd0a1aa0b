using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PixelPing.Flushing.Postgres;

namespace PixelPing.Tests.Flushing.Postgres;

public sealed class TlsServerEndPointTests
{
    public static TheoryData<string, string> Signatures => new()
    {
        // RFC 5929 §4.1: the signature's own hash, but SHA-256 for MD5 and SHA-1.
        { "ecdsa-SHA256", "SHA256" },
        { "ecdsa-SHA384", "SHA384" },
        { "ecdsa-SHA512", "SHA512" },
        { "rsa-SHA256", "SHA256" },
        { "rsa-SHA384", "SHA384" },
    };

    [Theory]
    [MemberData(nameof(Signatures))]
    public void The_hash_is_the_certificates_own_signature_hash_with_SHA256_for_SHA1(string signature, string hash)
    {
        string[] parts = signature.Split('-');
        var algorithm = new HashAlgorithmName(parts[1]);
        using X509Certificate2 certificate = parts[0] == "rsa" ? SelfSignedRsa(algorithm, RSASignaturePadding.Pkcs1) : SelfSignedEcdsa(algorithm);

        byte[] expected = hash switch
        {
            "SHA384" => SHA384.HashData(certificate.RawData),
            "SHA512" => SHA512.HashData(certificate.RawData),
            _ => SHA256.HashData(certificate.RawData),
        };
        Assert.Equal(expected, TlsServerEndPoint.Hash(certificate));
    }

    [Theory]
    // The runtime signs no certificate with MD5 or SHA-1 any more, so these go by their OIDs.
    [InlineData("1.2.840.113549.1.1.4", "SHA256")] // md5WithRSAEncryption
    [InlineData("1.2.840.113549.1.1.5", "SHA256")] // sha1WithRSAEncryption
    [InlineData("1.2.840.10045.4.1", "SHA256")]    // ecdsa-with-SHA1
    [InlineData("1.2.840.10040.4.3", "SHA256")]    // dsa-with-sha1
    [InlineData("1.2.840.113549.1.1.12", "SHA384")]
    [InlineData("1.2.840.10045.4.3.4", "SHA512")]
    [InlineData("1.2.840.113549.1.1.14", null)]    // sha224WithRSAEncryption: the runtime has no SHA-224
    public void MD5_and_SHA1_signatures_bind_with_SHA256(string oid, string? hash)
    {
        Assert.Equal(hash, TlsServerEndPoint.HashOf(oid)?.Name);
    }

    [Fact]
    public void A_signature_without_one_hash_gives_none()
    {
        // RSASSA-PSS names its hash in its parameters, not in its OID: no binding, as PostgreSQL 15 has none either.
        using X509Certificate2 pss = SelfSignedRsa(HashAlgorithmName.SHA256, RSASignaturePadding.Pss);

        Assert.Equal("1.2.840.113549.1.1.10", pss.SignatureAlgorithm.Value);
        Assert.Null(TlsServerEndPoint.Hash(pss));
        Assert.Null(TlsServerEndPoint.HashOf("1.3.101.112"));
    }

    private static X509Certificate2 SelfSignedEcdsa(HashAlgorithmName hash)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CertificateRequest("CN=binding", key, hash).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 SelfSignedRsa(HashAlgorithmName hash, RSASignaturePadding padding)
    {
        using var key = RSA.Create(2048);
        return new CertificateRequest("CN=binding", key, hash, padding).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    }
}
