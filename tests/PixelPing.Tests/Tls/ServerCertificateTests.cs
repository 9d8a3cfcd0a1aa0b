using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using PixelPing.Tests.Support;
using PixelPing.Tls;

namespace PixelPing.Tests.Tls;

/// <summary>Loading the server's key, certificate and chain: what is accepted, and the one line for what is not.</summary>
public sealed class ServerCertificateTests
{
    private readonly string _dir = TempDir.Create();
    private readonly List<string> _warnings = [];

    private ServerCertificate Load(ServerFiles files, bool withCa = true)
    {
        ServerCertificate? certificate = ServerCertificate.TryLoad("config.json", files.Key, files.Cert, withCa ? files.Ca : null, _warnings, out string error);
        Assert.True(certificate is not null, error);
        Assert.Equal("", error);
        return certificate;
    }

    private string LoadError(ServerFiles files)
    {
        Assert.Null(ServerCertificate.TryLoad("config.json", files.Key, files.Cert, files.Ca, _warnings, out string error));
        Assert.StartsWith("config.json: \"ssl", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
        return error;
    }

    [Theory]
    [InlineData(false, KeyForm.Pkcs8)]
    [InlineData(false, KeyForm.Sec1)]
    [InlineData(true, KeyForm.Pkcs8)]
    [InlineData(true, KeyForm.Pkcs1)]
    public void Loads_the_certificate_with_its_key_and_sends_the_intermediate(bool rsa, KeyForm form)
    {
        TestPki pki = TestPki.Shared;
        using X509Certificate2 leaf = pki.IssueLeaf(rsa: rsa);
        ServerCertificate certificate = Load(pki.WriteServerFiles(_dir, leaf, form));

        Assert.Equal(leaf.Thumbprint, certificate.Certificate.Thumbprint);
        Assert.True(certificate.Certificate.HasPrivateKey);
        // The root is the client's to trust; only the intermediate goes on the wire.
        Assert.Equal([pki.Intermediate.Thumbprint], certificate.Intermediates.Select(c => c.Thumbprint));
        Assert.Empty(_warnings);
        Assert.Equal("CN=localhost", certificate.Describe().Split(',')[0]);
        Assert.EndsWith(", 1 chain certificate sent", certificate.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Only_tls_1_2_and_1_3_are_enabled()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        ServerCertificate certificate = Load(TestPki.Shared.WriteServerFiles(_dir, leaf));

        Assert.Equal(SslProtocols.Tls12 | SslProtocols.Tls13, certificate.Options.EnabledSslProtocols);
        Assert.False(certificate.Options.AllowRenegotiation);
    }

    [Fact]
    public void A_fullchain_certificate_file_feeds_the_chain_without_sslca()
    {
        TestPki pki = TestPki.Shared;
        using X509Certificate2 leaf = pki.IssueLeaf();
        ServerFiles files = pki.WriteServerFiles(_dir, leaf);
        TestPki.WriteCertificates(files.Cert, leaf, pki.Intermediate);

        ServerCertificate certificate = Load(files, withCa: false);

        Assert.Equal(leaf.Thumbprint, certificate.Certificate.Thumbprint);
        Assert.Equal([pki.Intermediate.Thumbprint], certificate.Intermediates.Select(c => c.Thumbprint));
    }

    [Fact]
    public void Without_sslca_no_chain_is_sent()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        ServerCertificate certificate = Load(TestPki.Shared.WriteServerFiles(_dir, leaf), withCa: false);

        Assert.Empty(certificate.Intermediates);
        Assert.EndsWith(", 0 chain certificates sent", certificate.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_that_is_not_the_certificates_is_refused()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        using X509Certificate2 other = TestPki.Shared.IssueLeaf();
        ServerFiles files = TestPki.Shared.WriteServerFiles(_dir, leaf);
        TestPki.WriteKey(files.Key, other);

        Assert.Equal($"config.json: \"sslkey\" {files.Key}: the private key does not match the certificate in {files.Cert}", LoadError(files));
    }

    [Fact]
    public void A_key_of_another_algorithm_is_refused_as_not_matching()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        using X509Certificate2 rsa = TestPki.Shared.IssueLeaf(rsa: true);
        ServerFiles files = TestPki.Shared.WriteServerFiles(_dir, leaf);
        TestPki.WriteKey(files.Key, rsa, KeyForm.Pkcs1);

        Assert.Contains("the private key does not match the certificate", LoadError(files), StringComparison.Ordinal);
    }

    [Fact]
    public void An_expired_certificate_loads_with_a_warning()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf(notBefore: now.AddDays(-10), notAfter: now.AddDays(-1));
        ServerFiles files = TestPki.Shared.WriteServerFiles(_dir, leaf);

        Load(files);

        string warning = Assert.Single(_warnings);
        Assert.StartsWith($"config.json: \"sslcert\" {files.Cert}: the certificate expired on ", warning, StringComparison.Ordinal);
        Assert.EndsWith(" UTC; clients will refuse it", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_not_valid_yet_loads_with_a_warning()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf(notBefore: now.AddDays(1), notAfter: now.AddDays(10));

        Load(TestPki.Shared.WriteServerFiles(_dir, leaf));

        Assert.Contains("the certificate is not valid until ", Assert.Single(_warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Each_file_names_its_key_and_path_when_it_fails()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        ServerFiles good = TestPki.Shared.WriteServerFiles(_dir, leaf);

        ServerFiles noCert = good with { Cert = Path.Combine(_dir, "missing-cert.pem") };
        Assert.Equal($"config.json: \"sslcert\" {noCert.Cert}: no such file or directory", LoadError(noCert));

        ServerFiles noKey = good with { Key = Path.Combine(_dir, "missing-key.pem") };
        Assert.Equal($"config.json: \"sslkey\" {noKey.Key}: no such file or directory", LoadError(noKey));

        ServerFiles keyAsCa = good with { Ca = good.Key };
        Assert.Equal($"config.json: \"sslca\" {good.Key}: no PEM certificate in the file (expected -----BEGIN CERTIFICATE-----)", LoadError(keyAsCa));

        ServerFiles encrypted = good with { Key = Path.Combine(_dir, "encrypted.pem") };
        TestPki.WriteKey(encrypted.Key, leaf, KeyForm.EncryptedPkcs8);
        Assert.StartsWith($"config.json: \"sslkey\" {encrypted.Key}: the private key is encrypted", LoadError(encrypted), StringComparison.Ordinal);
    }

    [Fact]
    public void Reload_swaps_in_the_new_files_and_a_broken_one_keeps_the_old()
    {
        TestPki pki = TestPki.Shared;
        using X509Certificate2 first = pki.IssueLeaf();
        using X509Certificate2 second = pki.IssueLeaf(rsa: true);
        ServerFiles files = pki.WriteServerFiles(_dir, first);
        ServerCertificate certificate = Load(files);
        var before = certificate.Options;

        pki.WriteServerFiles(_dir, second, KeyForm.Pkcs1);
        Assert.True(certificate.TryReload(_warnings, out string error), error);
        Assert.Equal(second.Thumbprint, certificate.Certificate.Thumbprint);
        Assert.NotSame(before, certificate.Options);

        // A half-written renewal: the certificate is new but the key is still the old one.
        using X509Certificate2 third = pki.IssueLeaf();
        TestPki.WriteCertificates(files.Cert, third);
        Assert.False(certificate.TryReload(_warnings, out error));
        Assert.Equal($"config.json: \"sslkey\" {files.Key}: the private key does not match the certificate in {files.Cert}", error);
        Assert.Equal(second.Thumbprint, certificate.Certificate.Thumbprint);

        File.WriteAllText(files.Key, "garbage");
        Assert.False(certificate.TryReload(_warnings, out error));
        Assert.Equal(second.Thumbprint, certificate.Certificate.Thumbprint);
        Assert.Empty(_warnings);
    }
}
