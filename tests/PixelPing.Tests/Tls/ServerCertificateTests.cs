using System.Net;
using System.Net.Security;
using System.Net.Sockets;
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

    /// <summary>What a client sees of a handshake with <paramref name="certificate"/> over loopback: the protocol, the leaf and the chain sent after it.</summary>
    private static async Task<PeerView> HandshakeAsync(ServerCertificate certificate, SslProtocols protocols = SslProtocols.None)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using Socket accepted = await listener.AcceptSocketAsync();
        await using var serverSide = new NetworkStream(accepted);
        Task<SslStream?> server = certificate.AuthenticateAsync(serverSide);

        X509Certificate2[] sent = [];
        await using var ssl = new SslStream(client.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = protocols,
            // Only what the server sent is of interest here: its leaf and the certificates it sent after it.
            RemoteCertificateValidationCallback = (_, _, chain, _) =>
            {
                sent = [.. chain!.ChainPolicy.ExtraStore];
                return true;
            },
        });
        await using SslStream? served = await server;
        Assert.NotNull(served);
        var leaf = (X509Certificate2)ssl.RemoteCertificate!;
        return new PeerView(ssl.SslProtocol, leaf.Thumbprint, sent.Select(c => c.Thumbprint).Where(t => t != leaf.Thumbprint).ToArray());
    }

    private sealed record PeerView(SslProtocols Protocol, string Leaf, string[] Chain);

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
    public async Task Loads_the_certificate_with_its_key_and_sends_the_intermediate(bool rsa, KeyForm form)
    {
        TestPki pki = TestPki.Shared;
        using X509Certificate2 leaf = pki.IssueLeaf(rsa: rsa);
        ServerCertificate certificate = Load(pki.WriteServerFiles(_dir, leaf, form));

        // The handshake proves the key; the root is the client's to trust, so only the intermediate goes on the wire.
        PeerView peer = await HandshakeAsync(certificate);
        Assert.Equal(leaf.Thumbprint, peer.Leaf);
        Assert.Equal([pki.Intermediate.Thumbprint], peer.Chain);
        Assert.Empty(_warnings);
        Assert.Equal("CN=localhost", certificate.Describe().Split(',')[0]);
        Assert.EndsWith(", 1 chain certificate sent", certificate.Describe(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Tls_1_2_and_1_3_are_served(SslProtocols protocol)
    {
        // The refusal of 1.0 and 1.1 needs a client that still offers them: TlsBinaryTests asks openssl s_client.
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        ServerCertificate certificate = Load(TestPki.Shared.WriteServerFiles(_dir, leaf));

        Assert.Equal(protocol, (await HandshakeAsync(certificate, protocol)).Protocol);
    }

    [Fact]
    public async Task A_fullchain_certificate_file_feeds_the_chain_without_sslca()
    {
        TestPki pki = TestPki.Shared;
        using X509Certificate2 leaf = pki.IssueLeaf();
        ServerFiles files = pki.WriteServerFiles(_dir, leaf);
        TestPki.WriteCertificates(files.Cert, leaf, pki.Intermediate);

        ServerCertificate certificate = Load(files, withCa: false);

        PeerView peer = await HandshakeAsync(certificate);
        Assert.Equal(leaf.Thumbprint, peer.Leaf);
        Assert.Equal([pki.Intermediate.Thumbprint], peer.Chain);
    }

    [Fact]
    public async Task Without_sslca_no_chain_is_sent()
    {
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        ServerCertificate certificate = Load(TestPki.Shared.WriteServerFiles(_dir, leaf), withCa: false);

        Assert.Empty((await HandshakeAsync(certificate)).Chain);
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
    public async Task Reload_swaps_in_the_new_files_and_a_broken_one_keeps_the_old()
    {
        TestPki pki = TestPki.Shared;
        using X509Certificate2 first = pki.IssueLeaf();
        using X509Certificate2 second = pki.IssueLeaf(rsa: true);
        ServerFiles files = pki.WriteServerFiles(_dir, first);
        ServerCertificate certificate = Load(files);
        Assert.Equal(first.Thumbprint, (await HandshakeAsync(certificate)).Leaf);

        pki.WriteServerFiles(_dir, second, KeyForm.Pkcs1);
        Assert.True(certificate.TryReload(_warnings, out string error), error);
        Assert.Equal(second.Thumbprint, (await HandshakeAsync(certificate)).Leaf);

        // A half-written renewal: the certificate is new but the key is still the old one.
        using X509Certificate2 third = pki.IssueLeaf();
        TestPki.WriteCertificates(files.Cert, third);
        Assert.False(certificate.TryReload(_warnings, out error));
        Assert.Equal($"config.json: \"sslkey\" {files.Key}: the private key does not match the certificate in {files.Cert}", error);
        Assert.Equal(second.Thumbprint, (await HandshakeAsync(certificate)).Leaf);

        File.WriteAllText(files.Key, "garbage");
        Assert.False(certificate.TryReload(_warnings, out error));
        Assert.Equal(second.Thumbprint, (await HandshakeAsync(certificate)).Leaf);
        Assert.Empty(_warnings);
    }
}
