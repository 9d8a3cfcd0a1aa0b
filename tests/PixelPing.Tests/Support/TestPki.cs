using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Tests.Support;

/// <summary>How a private key is written to its PEM file.</summary>
public enum KeyForm
{
    /// <summary>PKCS#8, <c>-----BEGIN PRIVATE KEY-----</c> (RSA or EC).</summary>
    Pkcs8,

    /// <summary>PKCS#1, <c>-----BEGIN RSA PRIVATE KEY-----</c> (RSA only).</summary>
    Pkcs1,

    /// <summary>SEC1, <c>-----BEGIN EC PRIVATE KEY-----</c> (EC only).</summary>
    Sec1,

    /// <summary>SEC1 after an <c>EC PARAMETERS</c> block, as <c>openssl ecparam -genkey</c> writes it.</summary>
    Sec1WithParameters,

    /// <summary>Encrypted PKCS#8, <c>-----BEGIN ENCRYPTED PRIVATE KEY-----</c>, pass phrase "secret".</summary>
    EncryptedPkcs8,
}

/// <summary>The PEM files of one server certificate: the key, the certificate, the chain (intermediate) and the root.</summary>
public sealed record ServerFiles(string Key, string Cert, string Ca, string Root);

/// <summary>
/// A small PKI made in the test: a root CA, an intermediate CA under it, and leaf certificates issued by the
/// intermediate for localhost, 127.0.0.1 and ::1. A client that trusts only <see cref="Root"/> accepts a leaf only
/// when the server also sends <see cref="Intermediate"/>. EC P-256 keys by default, so making one costs milliseconds.
/// </summary>
public sealed class TestPki
{
    private static readonly Lazy<TestPki> s_shared = new(() => new TestPki("Pixel Ping Test"));

    public TestPki(string name)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        Root = MakeCa($"CN={name} Root CA", issuer: null, now.AddDays(-30), now.AddYears(5));
        Intermediate = MakeCa($"CN={name} Intermediate CA", Root, now.AddDays(-30), now.AddYears(4));
    }

    /// <summary>One PKI for every test that needs no PKI of its own.</summary>
    public static TestPki Shared => s_shared.Value;

    /// <summary>The root CA, with its private key.</summary>
    public X509Certificate2 Root { get; }

    /// <summary>The intermediate CA, with its private key; it issues the leaves.</summary>
    public X509Certificate2 Intermediate { get; }

    /// <summary>A server certificate (or with <paramref name="client"/> a client one) with its private key, valid now unless the dates say otherwise.</summary>
    public X509Certificate2 IssueLeaf(
        string commonName = "localhost",
        bool rsa = false,
        DateTimeOffset? notBefore = null,
        DateTimeOffset? notAfter = null,
        string[]? dnsNames = null,
        IPAddress[]? addresses = null,
        bool client = false)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var san = new SubjectAlternativeNameBuilder();
        foreach (string dns in dnsNames ?? ["localhost"])
        {
            san.AddDnsName(dns);
        }

        foreach (IPAddress address in addresses ?? [IPAddress.Loopback, IPAddress.IPv6Loopback])
        {
            san.AddIpAddress(address);
        }

        using RSA? rsaKey = rsa ? RSA.Create(2048) : null;
        using ECDsa? ecKey = rsa ? null : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = rsaKey is not null
            ? new CertificateRequest($"CN={commonName}", rsaKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest($"CN={commonName}", ecKey!, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            X509KeyUsageFlags.DigitalSignature | (rsa ? X509KeyUsageFlags.KeyEncipherment : 0), true));
        // serverAuth, or clientAuth for a client certificate (a server checks the purpose of the chain it is shown).
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(client ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Intermediate, true, false));
        // The generator overload: the issuer is EC and the leaf may be RSA, which the certificate overload refuses.
        using ECDsa issuerKey = Intermediate.GetECDsaPrivateKey()!;
        using X509Certificate2 signed = request.Create(Intermediate.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey),
            notBefore ?? now.AddDays(-1), notAfter ?? now.AddDays(30), Serial());
        return rsaKey is not null ? signed.CopyWithPrivateKey(rsaKey) : signed.CopyWithPrivateKey(ecKey!);
    }

    /// <summary>Writes key, certificate, intermediate and root to <paramref name="directory"/> (names prefixed by <paramref name="prefix"/>).</summary>
    public ServerFiles WriteServerFiles(string directory, X509Certificate2 leaf, KeyForm form = KeyForm.Pkcs8, string prefix = "")
    {
        var files = new ServerFiles(
            Path.Combine(directory, prefix + "key.pem"),
            Path.Combine(directory, prefix + "cert.pem"),
            Path.Combine(directory, prefix + "ca.pem"),
            Path.Combine(directory, prefix + "root.pem"));
        WriteKey(files.Key, leaf, form);
        WriteCertificates(files.Cert, leaf);
        WriteCertificates(files.Ca, Intermediate);
        WriteCertificates(files.Root, Root);
        return files;
    }

    public static void WriteCertificates(string path, params X509Certificate2[] certificates) =>
        File.WriteAllText(path, string.Concat(certificates.Select(c => c.ExportCertificatePem() + "\n")));

    public static void WriteKey(string path, X509Certificate2 certificate, KeyForm form = KeyForm.Pkcs8) =>
        File.WriteAllText(path, KeyPem(certificate, form));

    public static string KeyPem(X509Certificate2 certificate, KeyForm form = KeyForm.Pkcs8)
    {
        using AsymmetricAlgorithm key = (AsymmetricAlgorithm?)certificate.GetRSAPrivateKey() ?? certificate.GetECDsaPrivateKey()
            ?? throw new InvalidOperationException("the certificate has no private key");
        return form switch
        {
            KeyForm.Pkcs8 => key.ExportPkcs8PrivateKeyPem(),
            KeyForm.Pkcs1 => ((RSA)key).ExportRSAPrivateKeyPem(),
            KeyForm.Sec1 => ((ECDsa)key).ExportECPrivateKeyPem(),
            KeyForm.Sec1WithParameters =>
                "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + ((ECDsa)key).ExportECPrivateKeyPem(),
            KeyForm.EncryptedPkcs8 => key.ExportEncryptedPkcs8PrivateKeyPem("secret",
                new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000)),
            _ => throw new ArgumentOutOfRangeException(nameof(form)),
        } + "\n";
    }

    private static X509Certificate2 MakeCa(string subject, X509Certificate2? issuer, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (issuer is null)
        {
            return request.CreateSelfSigned(notBefore, notAfter);
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using X509Certificate2 signed = request.Create(issuer, notBefore, notAfter, Serial());
        return signed.CopyWithPrivateKey(key);
    }

    private static byte[] Serial()
    {
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // a positive INTEGER
        return serial;
    }
}
