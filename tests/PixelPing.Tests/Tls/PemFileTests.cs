using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PixelPing.Tests.Support;
using PixelPing.Tls;

namespace PixelPing.Tests.Tls;

public sealed class PemFileTests
{
    private readonly string _dir = TempDir.Create();

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Theory]
    [InlineData(false, KeyForm.Pkcs8)]
    [InlineData(false, KeyForm.Sec1)]
    [InlineData(false, KeyForm.Sec1WithParameters)]
    [InlineData(true, KeyForm.Pkcs8)]
    [InlineData(true, KeyForm.Pkcs1)]
    public void Reads_every_supported_key_form(bool rsa, KeyForm form)
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf(rsa: rsa);
        string path = Write("key.pem", TestPki.KeyPem(leaf, form));

        Assert.True(PemFile.TryReadPrivateKey(path, out AsymmetricAlgorithm? key, out string reason), reason);
        using (key)
        {
            Assert.IsAssignableFrom(rsa ? typeof(RSA) : typeof(ECDsa), key);
            Assert.True(ServerCertificate.Matches(leaf, key!));
        }
    }

    [Fact]
    public void An_encrypted_pkcs8_key_is_refused_with_a_clear_reason()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        string path = Write("key.pem", TestPki.KeyPem(leaf, KeyForm.EncryptedPkcs8));

        Assert.False(PemFile.TryReadPrivateKey(path, out _, out string reason));
        Assert.StartsWith("the private key is encrypted", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_legacy_encrypted_pkcs1_key_is_refused_with_the_same_reason()
    {
        // What `openssl rsa -aes128` writes: RFC 1421 headers inside the block.
        string path = Write("key.pem", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n" +
            "DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n");

        Assert.False(PemFile.TryReadPrivateKey(path, out _, out string reason));
        Assert.StartsWith("the private key is encrypted", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Certificates_come_back_in_file_order_with_text_between_blocks_skipped()
    {
        TestPki pki = TestPki.Shared;
        using X509Certificate2 leaf = pki.IssueLeaf();
        string path = Write("chain.pem", "subject=CN = localhost\n" + leaf.ExportCertificatePem() + "\n# then the chain\n" +
            pki.Intermediate.ExportCertificatePem() + "\n");

        Assert.True(PemFile.TryReadCertificates(path, out X509Certificate2Collection certificates, out string reason), reason);
        Assert.Equal([leaf.Thumbprint, pki.Intermediate.Thumbprint], certificates.Select(c => c.Thumbprint));
    }

    [Fact]
    public void A_key_file_given_as_the_certificate_says_there_is_no_certificate()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        string path = Write("key.pem", TestPki.KeyPem(leaf));

        Assert.False(PemFile.TryReadCertificates(path, out _, out string reason));
        Assert.Equal("no PEM certificate in the file (expected -----BEGIN CERTIFICATE-----)", reason);
    }

    [Fact]
    public void A_certificate_file_given_as_the_key_says_so()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        string path = Write("cert.pem", leaf.ExportCertificatePem());

        Assert.False(PemFile.TryReadPrivateKey(path, out _, out string reason));
        Assert.Contains("only certificates", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_der_file_is_not_pem()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        string path = Path.Combine(_dir, "cert.der");
        File.WriteAllBytes(path, leaf.RawData);

        Assert.False(PemFile.TryReadCertificates(path, out _, out string reason));
        Assert.StartsWith("no PEM certificate in the file", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Broken_base64_is_reported_as_invalid_pem()
    {
        string path = Write("cert.pem", "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");

        Assert.False(PemFile.TryReadCertificates(path, out _, out string reason));
        Assert.Equal("the CERTIFICATE block is not valid PEM (broken base64 or a missing END line)", reason);
    }

    [Fact]
    public void Valid_base64_that_is_not_a_certificate_is_reported()
    {
        string path = Write("cert.pem", "-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n");

        Assert.False(PemFile.TryReadCertificates(path, out _, out string reason));
        Assert.Equal("certificate 1 in the file is not a valid X.509 certificate", reason);
    }

    [Fact]
    public void Missing_empty_and_directory_paths_say_which()
    {
        Assert.False(PemFile.TryReadCertificates(Path.Combine(_dir, "nope.pem"), out _, out string missing));
        Assert.Equal("no such file or directory", missing);
        Assert.False(PemFile.TryReadPrivateKey(Path.Combine(_dir, "no", "such", "dir.pem"), out _, out string noDir));
        Assert.Equal("no such file or directory", noDir);
        Assert.False(PemFile.TryReadCertificates(Write("empty.pem", ""), out _, out string empty));
        Assert.Equal("the file is empty", empty);
        Assert.False(PemFile.TryReadCertificates(_dir, out _, out string directory));
        Assert.Equal("it is a directory", directory);
    }

    [Fact]
    public void A_file_over_the_size_limit_is_refused_without_reading_it_all()
    {
        string path = Path.Combine(_dir, "huge.pem");
        using (var file = File.Create(path))
        {
            file.SetLength(PemFile.MaxBytes + 1);
        }

        Assert.False(PemFile.TryReadCertificates(path, out _, out string reason));
        Assert.StartsWith("it is larger than 1 MiB", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_key_kinds_are_named()
    {
        string path = Write("id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");

        Assert.False(PemFile.TryReadPrivateKey(path, out _, out string reason));
        Assert.StartsWith("a key in OPENSSH PRIVATE KEY form is not supported", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Matches_tells_a_key_from_another_of_the_same_kind()
    {
        using X509Certificate2 a = TestPki.Shared.IssueLeaf();
        using X509Certificate2 b = TestPki.Shared.IssueLeaf();
        using X509Certificate2 rsa = TestPki.Shared.IssueLeaf(rsa: true);
        using ECDsa bKey = b.GetECDsaPrivateKey()!;
        using RSA rsaKey = rsa.GetRSAPrivateKey()!;

        Assert.False(ServerCertificate.Matches(a, bKey));
        Assert.False(ServerCertificate.Matches(a, rsaKey));
        Assert.True(ServerCertificate.Matches(b, bKey));
        Assert.True(ServerCertificate.Matches(rsa, rsaKey));
    }
}
