using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// TLS in the published native-AOT executable: certificate errors at start and in --check, SIGHUP reload,
/// protocol versions as <c>openssl s_client</c> sees them, and flushing to an HTTPS endpoint trusted via endpointca.
/// </summary>
[Trait("Kind", "External")]
[Trait("Emulated", "true")] // also run against the linux-arm64 executable under qemu-user: ./build.sh --arch arm64 test
public sealed partial class TlsBinaryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly TestPki Pki = TestPki.Shared;
    private readonly string _dir = TempDir.Create();
    private readonly X509Certificate2Collection _root = [Pki.Root];

    private string Config(ServerFiles files, string extra = "")
    {
        string path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, $$"""
            { "host": "127.0.0.1", "port": 0, "interval": 3600,
              "sslkey": "{{files.Key}}", "sslcert": "{{files.Cert}}", "sslca": "{{files.Ca}}"{{extra}} }
            """);
        return path;
    }

    private ServerProcess Start(string config, out int port)
    {
        ServerProcess server = ServerProcess.Start(_dir, config);
        port = server.WaitForPort();
        return server;
    }

    [Fact]
    public void Sighup_reloads_the_certificate_for_new_connections_while_open_ones_carry_on()
    {
        using X509Certificate2 first = Pki.IssueLeaf();
        using X509Certificate2 second = Pki.IssueLeaf(commonName: "reloaded", rsa: true);
        ServerFiles files = Pki.WriteServerFiles(_dir, first);
        using ServerProcess server = Start(Config(files), out int port);
        server.WaitForStdout(l => l.StartsWith("Pixel Ping 1.0.0 listening on https://127.0.0.1:", StringComparison.Ordinal), Deadline);

        using RawHttpClient before = RawHttpClient.ConnectTls(port, _root);
        Assert.Equal(200, before.Request("/pixel.gif?key=sighup").Status);
        Assert.Equal(first.Thumbprint, before.RemoteCertificate!.Thumbprint);

        // The renewal: new key (another algorithm and form, even) and certificate under the same paths.
        Pki.WriteServerFiles(_dir, second, KeyForm.Pkcs1);
        server.Signal(ServerProcess.SIGHUP);
        server.WaitForStdout(l => l.StartsWith("TLS certificate reloaded: CN=reloaded, valid until ", StringComparison.Ordinal), Deadline);

        using (RawHttpClient after = RawHttpClient.ConnectTls(port, _root))
        {
            Assert.Equal(second.Thumbprint, after.RemoteCertificate!.Thumbprint);
            Assert.Equal(200, after.Request("/pixel.gif?key=sighup").Status);
        }

        // The connection opened before the reload was not dropped.
        Assert.Equal(200, before.Request("/pixel.gif?key=sighup").Status);

        // A broken key file: one line says why, and the certificate in use stays.
        File.WriteAllText(files.Key, "not a key");
        server.Signal(ServerProcess.SIGHUP);
        string line = server.WaitForStderr(l => l.StartsWith("--- TLS certificate not reloaded", StringComparison.Ordinal), Deadline);
        Assert.Equal($"--- TLS certificate not reloaded, the old one stays in use: {Path.Combine(_dir, "config.json")}: \"sslkey\" {files.Key}: " +
            "no PEM private key in the file (expected -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)", line);
        using (RawHttpClient afterBroken = RawHttpClient.ConnectTls(port, _root))
        {
            Assert.Equal(second.Thumbprint, afterBroken.RemoteCertificate!.Thumbprint);
            Assert.Equal(200, afterBroken.Request("/pixel.gif?key=sighup").Status);
        }

        Assert.Equal(200, before.Request("/pixel.gif?key=sighup").Status);
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Contains("5:\tsighup", server.Stdout);
    }

    [Fact]
    public void Sighup_without_tls_says_there_is_nothing_to_reload_and_keeps_serving()
    {
        using ServerProcess server = ServerProcess.StartWithConfig("""{ "host": "127.0.0.1", "port": 0, "interval": 3600 }""", out int port, _dir);

        server.Signal(ServerProcess.SIGHUP);

        server.WaitForStdout(l => l == $"Got SIGHUP. Nothing to reload: no \"sslkey\" and \"sslcert\" in {Path.Combine(_dir, "config.json")}.", Deadline);
        using var client = new RawHttpClient(port);
        Assert.Equal(200, client.Request("/pixel.gif").Status);
        Assert.False(server.HasExited);
    }

    public static TheoryData<string, string> BadFiles => new()
    {
        { "missing-cert", "\"sslcert\" {cert}: no such file or directory" },
        { "key-not-pem", "\"sslkey\" {key}: no PEM private key in the file" },
        { "der-cert", "\"sslcert\" {cert}: no PEM certificate in the file" },
        { "mismatched-key", "\"sslkey\" {key}: the private key does not match the certificate in {cert}" },
        { "encrypted-key", "\"sslkey\" {key}: the private key is encrypted" },
        { "missing-ca", "\"sslca\" {ca}: no such file or directory" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_bad_certificate_file_fails_start_and_check_with_one_line(string problem, string expected)
    {
        using X509Certificate2 leaf = Pki.IssueLeaf();
        using X509Certificate2 other = Pki.IssueLeaf();
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        switch (problem)
        {
            case "missing-cert": File.Delete(files.Cert); break;
            case "key-not-pem": File.WriteAllText(files.Key, "hello"); break;
            case "der-cert": File.WriteAllBytes(files.Cert, leaf.RawData); break;
            case "mismatched-key": TestPki.WriteKey(files.Key, other); break;
            case "encrypted-key": TestPki.WriteKey(files.Key, leaf, KeyForm.EncryptedPkcs8); break;
            case "missing-ca": File.Delete(files.Ca); break;
        }

        string config = Config(files);
        string prefix = $"pixel-ping: {config}: " + expected.Replace("{cert}", files.Cert).Replace("{key}", files.Key).Replace("{ca}", files.Ca);
        foreach (string[] args in new[] { new[] { "--check", config }, new[] { config } })
        {
            using ServerProcess process = ServerProcess.Start(_dir, args);
            Assert.Equal(1, process.WaitForExit(Deadline));
            string line = Assert.Single(process.Stderr);
            Assert.StartsWith(prefix, line, StringComparison.Ordinal);
            Assert.DoesNotContain(process.Stdout, l => l.Contains("listening", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void An_unreadable_key_file_fails_with_permission_denied()
    {
        using X509Certificate2 leaf = Pki.IssueLeaf();
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        File.SetUnixFileMode(files.Key, UnixFileMode.None);
        string config = Config(files);
        string[] command = Repo.CommandFor(Repo.Binary);
        if (Environment.IsPrivilegedProcess)
        {
            // Root reads a file whatever its mode: run as nobody, from a copy of the binary nobody may execute.
            string binary = Path.Combine(_dir, "pixel-ping");
            File.Copy(Repo.Binary, binary);
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", .. Repo.CommandFor(binary)];
        }

        ProcessStartInfo info = ServerProcess.StartInfo([.. command, "--check", config], _dir);
        using ServerProcess check = ServerProcess.Start(info);

        Assert.Equal(1, check.WaitForExit(Deadline));
        Assert.Equal($"pixel-ping: {config}: \"sslkey\" {files.Key}: permission denied", Assert.Single(check.Stderr));
    }

    [Fact]
    public void An_expired_certificate_is_a_warning_in_check_and_at_start()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 leaf = Pki.IssueLeaf(notBefore: now.AddDays(-20), notAfter: now.AddDays(-2));
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        string config = Config(files);
        string warning = $"pixel-ping: warning: {config}: \"sslcert\" {files.Cert}: the certificate expired on ";

        using (ServerProcess check = ServerProcess.Start(_dir, "--check", config))
        {
            Assert.Equal(0, check.WaitForExit(Deadline));
            Assert.StartsWith(warning, Assert.Single(check.Stderr), StringComparison.Ordinal);
        }

        using ServerProcess server = Start(config, out int port);
        Assert.StartsWith(warning, server.WaitForStderr(l => l.Contains("expired", StringComparison.Ordinal), Deadline), StringComparison.Ordinal);
        // It serves; a client that checks dates refuses the certificate, which is the client's call.
        Assert.ThrowsAny<Exception>(() => RawHttpClient.ConnectTls(port, _root));
    }

    [Fact]
    public void Check_loads_the_files_and_describes_the_certificate_and_endpoint_trust()
    {
        using X509Certificate2 leaf = Pki.IssueLeaf();
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        string config = Config(files, $$""", "endpoint": "https://stats.internal/hits", "endpointca": "{{files.Root}}" """);

        using ServerProcess check = ServerProcess.Start(_dir, "--check", config);

        Assert.Equal(0, check.WaitForExit(Deadline));
        Assert.Empty(check.Stderr);
        Assert.Contains(check.Stdout, l => Regex.IsMatch(l,
            @"^certificate: +CN=localhost, valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, 1 chain certificate sent$"));
        Assert.Contains("endpoint trust: CN=Pixel Ping Test Root CA (instead of the system trust store)", check.Stdout);
        Assert.Contains(check.Stdout, l => l.EndsWith("configuration OK", StringComparison.Ordinal));
    }

    [Fact]
    public void Openssl_s_client_is_refused_tls_1_0_and_1_1_and_served_over_1_2_and_1_3_with_the_chain()
    {
        using X509Certificate2 leaf = Pki.IssueLeaf();
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        using ServerProcess server = Start(Config(files), out int port);

        foreach (string version in new[] { "tls1", "tls1_1" })
        {
            // SECLEVEL=0 lets this OpenSSL offer the old versions at all, so the refusal is the server's.
            (int code, string output) = SClient(port, files.Root, $"-{version} -cipher DEFAULT@SECLEVEL=0");
            Assert.NotEqual(0, code);
            Assert.Contains("alert protocol version", output, StringComparison.Ordinal);
            Assert.DoesNotContain("HTTP/1.1 200 OK", output, StringComparison.Ordinal);
        }

        foreach ((string flag, string name) in new[] { ("tls1_2", "TLSv1.2"), ("tls1_3", "TLSv1.3") })
        {
            (_, string output) = SClient(port, files.Root, $"-{flag} -showcerts");
            Assert.Equal(name, NegotiatedProtocol().Match(output).Groups[1].Value);
            Assert.Contains("Verify return code: 0 (ok)", output, StringComparison.Ordinal);
            Assert.Contains("HTTP/1.1 200 OK", output, StringComparison.Ordinal);
            // The leaf and the intermediate; the root stays with the client.
            Assert.Equal(2, Regex.Matches(output, "-----BEGIN CERTIFICATE-----").Count);
            Assert.Contains("1 s:CN = Pixel Ping Test Intermediate CA", output, StringComparison.Ordinal);
        }

        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Contains("2:\ts_client", server.Stdout);
    }

    [Fact]
    public void Tls_1_2_offers_only_ECDHE_with_AES_GCM_or_ChaCha20_Poly1305()
    {
        using X509Certificate2 leaf = Pki.IssueLeaf();
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        using ServerProcess server = Start(Config(files), out int port);

        // The CBC suites testssl.sh flags (Lucky Thirteen), the static-RSA ones, each offered alone: refused.
        foreach (string cbc in new[]
        {
            "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES256-SHA384", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384",
            "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256", "AES256-SHA256",
        })
        {
            (int code, string output) = SClient(port, files.Root, $"-tls1_2 -cipher {cbc}");
            Assert.NotEqual(0, code);
            Assert.DoesNotContain("HTTP/1.1 200 OK", output, StringComparison.Ordinal);
        }

        // ECDHE with an AEAD cipher, for either key type: served, with that suite.
        foreach (string aead in new[] { "AES128-GCM-SHA256", "AES256-GCM-SHA384", "CHACHA20-POLY1305" })
        {
            (_, string output) = SClient(port, files.Root, $"-tls1_2 -cipher ECDHE-RSA-{aead}:ECDHE-ECDSA-{aead}");
            Assert.Contains("HTTP/1.1 200 OK", output, StringComparison.Ordinal);
            Assert.Matches($@"Cipher is ECDHE-(RSA|ECDSA)-{aead}", output);
        }

        // TLS 1.3 as before.
        (_, string tls13) = SClient(port, files.Root, "-tls1_3");
        Assert.Contains("HTTP/1.1 200 OK", tls13, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public void A_returning_client_resumes_its_session_with_the_suites_still_limited(string protocol)
    {
        // Resumption needs the OpenSSL context that the server keeps from one handshake to the next; a cipher suite
        // policy would make .NET build a new one per handshake (no resumption, and the full setup cost every time).
        using X509Certificate2 leaf = Pki.IssueLeaf();
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        using ServerProcess server = Start(Config(files), out int port);
        string session = Path.Combine(_dir, "session" + protocol + ".pem");

        (_, string first) = SClient(port, files.Root, $"{protocol} -sess_out {session}");
        Assert.Contains("HTTP/1.1 200 OK", first, StringComparison.Ordinal);
        Assert.Contains("New, TLSv1.", first, StringComparison.Ordinal);
        (_, string second) = SClient(port, files.Root, $"{protocol} -sess_in {session}");
        Assert.Contains("HTTP/1.1 200 OK", second, StringComparison.Ordinal);
        Assert.Contains("Reused, TLSv1.", second, StringComparison.Ordinal);

        // Still no CBC suite for TLS 1.2.
        (int code, _) = SClient(port, files.Root, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256");
        Assert.NotEqual(0, code);
    }

    [Fact]
    public async Task A_client_initiated_renegotiation_ends_the_connection_before_its_request_is_answered()
    {
        // Renegotiation would make the server redo its handshake work at the client's will: refused.
        using X509Certificate2 leaf = Pki.IssueLeaf();
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        using ServerProcess server = Start(Config(files), out int port);
        var info = new ProcessStartInfo("openssl", $"s_client -connect 127.0.0.1:{port} -servername localhost -CAfile {files.Root} -tls1_2")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Output() { lock (output) { return output.ToString(); } }

        try
        {
            await Wait.Until(() => Output().Contains("Verify return code: 0", StringComparison.Ordinal), "the handshake", Deadline);
            // A line holding only R is s_client's command to renegotiate; the request follows once it has started.
            process.StandardInput.Write("R\n");
            process.StandardInput.Flush();
            await Wait.Until(() => Output().Contains("RENEGOTIATING", StringComparison.Ordinal), "the renegotiation", Deadline);
            process.StandardInput.Write("GET /pixel.gif?key=renegotiated HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            process.StandardInput.Flush();
        }
        catch (IOException)
        {
            // s_client already ended: the server closed the connection.
        }

        Assert.True(process.WaitForExit(Deadline), "s_client did not end: the connection stayed open");
        process.WaitForExit();
        Assert.DoesNotContain("HTTP/1.1 200 OK", Output(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hits_over_https_flush_to_an_https_endpoint_and_a_refused_certificate_keeps_the_batch()
    {
        var stranger = new TestPki("Pixel Ping Stranger");
        using X509Certificate2 wrong = stranger.IssueLeaf();
        using X509Certificate2 right = Pki.IssueLeaf();
        using X509Certificate2 leaf = Pki.IssueLeaf();
        await using var receiver = new EndpointReceiver(wrong, stranger.Intermediate);
        ServerFiles files = Pki.WriteServerFiles(_dir, leaf);
        using ServerProcess server = Start(
            Config(files, $$""", "endpoint": "{{receiver.Url}}", "endpointca": "{{files.Root}}" """), out int port);
        using (RawHttpClient client = RawHttpClient.ConnectTls(port, _root))
        {
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=secure").Status);
            }
        }

        server.Signal(ServerProcess.SIGUSR2);
        Assert.Equal("--- cannot connect to endpoint : TLS certificate verification failed: certificate not trusted: " +
            "its issuer is unknown (a missing intermediate, or a CA that is not trusted)",
            server.WaitForStderr(l => l.StartsWith("--- cannot connect", StringComparison.Ordinal), Deadline));
        Assert.Equal(0, receiver.Requests);

        receiver.UseCertificate(right, Pki.Intermediate);
        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStdout(l => l == "--- flushed ---", Deadline);
        Assert.True(await receiver.WaitForTotalAsync(3, Deadline));
        Assert.Equal("/hits?site=test", Assert.Single(receiver.Received).Target);

        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(3, receiver.TotalHits);
    }

    [Fact]
    public void A_plain_http_endpoint_behind_an_https_url_logs_a_handshake_failure()
    {
        using ServerProcess plain = ServerProcess.StartWithConfig("""{ "host": "127.0.0.1", "port": 0, "interval": 3600 }""", out int plainPort);
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "https://127.0.0.1:{{plainPort}}/hits" }""", out int port);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=x").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        string line = server.WaitForStderr(l => l.StartsWith("--- cannot connect", StringComparison.Ordinal), Deadline);
        Assert.Equal("--- cannot connect to endpoint : TLS handshake failed: the endpoint does not speak TLS on this port (a plain http:// server?)", line);
    }

    /// <summary>Runs <c>openssl s_client</c> trusting only the root, sends one GET, and returns its exit code and output.</summary>
    private static (int Code, string Output) SClient(int port, string rootFile, string options)
    {
        var info = new ProcessStartInfo("openssl",
            $"s_client -connect 127.0.0.1:{port} -servername localhost -CAfile {rootFile} -verify_return_error -ign_eof {options}")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        try
        {
            process.StandardInput.Write("GET /pixel.gif?key=s_client HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // s_client already gave up (a refused handshake): its output says why.
        }

        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Deadline))
        {
            process.Kill();
            Assert.Fail("openssl s_client did not finish");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [GeneratedRegex(@"New, (TLSv1\.\d|\(NONE\)), Cipher is")]
    private static partial Regex NegotiatedProtocol();
}
