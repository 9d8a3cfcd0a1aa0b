using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// <c>--check</c> against the start, on the published binary: what one refuses the other refuses, and both say why in
/// words.
/// </summary>
public sealed partial class CheckParityTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly string[] Nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

    /// <summary>
    /// Configs and what both must say: an error (a config the start refuses) or, for one the start takes, a warning
    /// both print (or nothing). In the JSON, <c>{key}</c> and <c>{cert}</c> stand for a valid PEM key and certificate,
    /// <c>{dir}</c> for the config's directory and <c>{taken}</c> for a port a socket of the test holds.
    /// </summary>
    public static TheoryData<string, string?, string?> Configs => new()
    {
        // Refused by both.
        { """{ "host": "127.0.0.1", "port": 0, "secret": "ab\ud800" }""", "invalid JSON at line 1, byte 45: the value of \"secret\": a \\u escape is half of a UTF-16 surrogate pair", null },
        { """{ "\udc00": 1, "host": "127.0.0.1", "port": 0 }""", "invalid JSON at line 1, byte 3: a key name: a \\u escape is half of a UTF-16 surrogate pair", null },
        { """{ "host": "127.0.0.1", "port": 0, "referrers": ["a.org", "\udfff"] }""", "the value of \"referrers\": a \\u escape is half", null },
        { """{ "port": }""", "invalid JSON at line 1, byte 11: ", null },
        { "// only a comment\n", "the file holds only comments", null },
        { """{ "port": 0 } { }""", "invalid JSON at line 1, byte 15: ", null },
        { "[1, 2]", "the top level must be a JSON object", null },
        { "", "the file is empty", null },
        { """{ "host": "127.0.0.1", "port": "eighty" }""", "\"port\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "interval": -1 }""", "\"interval\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "discard": "yes" }""", "\"discard\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "maxkeys": 1.5 }""", "\"maxkeys\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "log": null, "logformat": "xml" }""", "\"logformat\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "referrers": "a.org" }""", "\"referrers\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "ignoreaddresses": ["10.0.0.0/33"] }""", "\"ignoreaddresses\" item 1 must be a CIDR block", null },
        { """{ "host": "127.0.0.1", "port": 0, "trustedproxies": ["10.0.0.0/8", "example.org"] }""", "\"trustedproxies\" item 2 must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "ftp://x/" }""", "\"endpoint\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://user:pw@example.org:99999/x" }""", "\"endpoint\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "not a url" }""", "\"endpoint\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/x", "spool": "sp\u0000ool" }""", "\"spool\" must be a non-empty file path without NUL characters", null },
        { """{ "host": "127.0.0.1", "port": 0, "sslkey": "{key}" }""", "\"sslkey\" and \"sslcert\" must be set together", null },
        { """{ "host": "127.0.0.1", "port": 0, "sslkey": "{key}", "sslcert": "missing.pem" }""", "\"sslcert\" missing.pem: no such file or directory", null },
        { """{ "host": "127.0.0.1", "port": 0, "sslkey": "{key}", "sslcert": "{dir}" }""", ": it is a directory", null },
        { """{ "host": "127.0.0.1", "port": 0, "sslkey": "{cert}", "sslcert": "{cert}" }""", "\"sslkey\"", null },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "https://127.0.0.1:9/x", "endpointca": "nope.pem" }""", "\"endpointca\" nope.pem: no such file or directory", null },
        { """{ "host": "127.0.0.1", "port": 0, "status": "nonsense" }""", "\"status\" must be", null },
        { """{ "host": "127.0.0.1", "port": 0, "status": "127.0.0.1:{taken}" }""", "\"status\": cannot listen on 127.0.0.1:{taken}: port {taken} is already in use", null },
        { """{ "host": "127.0.0.1", "port": {taken} }""", "cannot listen on 127.0.0.1:{taken}: port {taken} is already in use", null },
        { """{ "host": "no-such-host.invalid", "port": 0 }""", "cannot resolve host \"no-such-host.invalid\"", null },
        { $$"""{ "host": "127.0.0.1", "port": 0, "endpoint": "http://{{string.Join('.', Enumerable.Repeat(new string('a', 60), 5))}}/hits" }""", "\"endpoint\" must have a host name of at most 253 characters (got one of 304)", null },
        { $$"""{ "host": "127.0.0.1", "port": 0, "endpoint": "http://{{new string('a', 64)}}.example/hits" }""", "\"endpoint\" must have host name labels of at most 63 characters (got one of 64: ", null },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://receiver..example/hits" }""", "\"endpoint\" must have a host name without empty labels (got \"receiver..example\")", null },
        { """{ "host": "192.0.2.1", "port": 0 }""", "cannot listen on 192.0.2.1:0: address not available on this machine", null },

        // Taken by both, with the same warning.
        { """{ "host": "127.0.0.1", "port": 0 }""", null, null },
        { "\uFEFF{ \"host\": \"127.0.0.1\", \"port\": 0, \"secret\": \"\\ud83d\\ude00\" } // a BOM, a pair of escapes, a comment", null, null },
        { """{ "host": "localhost", "port": 0, "endpoint": "http://localhost:9/hits", "secret": "s", "spool": "spool.txt", "status": "127.0.0.1:0", "ignorebots": true, "referrers": ["example.org"], "ignoreaddresses": ["10.0.0.0/8", "::1/128"] }""", null, null },
        { """{ "host": "127.0.0.1", "port": 0, "sslkey": "{key}", "sslcert": "{cert}" }""", null, null },
        { """{ "host": "127.0.0.1", "port": 0, "prot": 1 }""", null, "unknown key \"prot\" ignored" },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/x", "spool": "{dir}" }""", null, "is a directory, not a file path; undelivered hits cannot be saved" },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/x", "spool": "no/such/dir/spool" }""", null, "the directory of no/such/dir/spool does not exist" },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://192.0.2.1:9/x", "secret": "s" }""", null, "the secret and the signed body travel in clear" },
        { """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://pixel_receiver:9/hits" }""", null, null },
    };

    [Theory]
    [MemberData(nameof(Configs))]
    public async Task Check_fails_exactly_when_the_start_fails_and_both_say_why_in_words(string json, string? error, string? warning)
    {
        string dir = TempDir.Create();
        using X509Certificate2 leaf = TestPki.Shared.IssueLeaf();
        ServerFiles files = TestPki.Shared.WriteServerFiles(dir, leaf);
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        string port = ((IPEndPoint)taken.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string Fill(string text) => text.Replace("{key}", files.Key, StringComparison.Ordinal).Replace("{cert}", files.Cert, StringComparison.Ordinal)
            .Replace("{dir}", dir, StringComparison.Ordinal).Replace("{taken}", port, StringComparison.Ordinal);
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, Fill(json));

        using ServerProcess check = ServerProcess.Start(dir, "--check", config);
        int checkCode = check.WaitForExit(Deadline);
        using ServerProcess start = ServerProcess.Start(dir, config);
        await Wait.Until(() => start.HasExited || start.Stdout.Any(l => l.Contains(" listening on ", StringComparison.Ordinal)),
            "the start to exit or to listen", Deadline);
        bool startFailed = start.HasExited && start.WaitForExit(Deadline) != 0;

        Assert.Equal(checkCode != 0, startFailed);
        Assert.Equal(error is not null, startFailed);
        string[] checkErrors = Errors(check.Stderr);
        string[] startErrors = Errors(start.Stderr);
        if (error is not null)
        {
            // One line each, the same line, naming the file and saying why.
            string line = Assert.Single(checkErrors);
            Assert.Equal(line, Assert.Single(startErrors));
            Assert.StartsWith($"pixel-ping: {config}: ", line, StringComparison.Ordinal);
            Assert.Contains(Fill(error), line, StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(checkErrors);
            Assert.Empty(startErrors);
            Assert.Contains(check.Stdout, l => l.EndsWith(": configuration OK", StringComparison.Ordinal));
        }

        if (warning is not null)
        {
            Assert.Contains(check.Stderr, l => l.Contains(warning, StringComparison.Ordinal));
            Assert.Contains(start.Stderr, l => l.Contains(warning, StringComparison.Ordinal));
        }

        foreach (string line in check.Stdout.Concat(check.Stderr).Concat(start.Stdout).Concat(start.Stderr))
        {
            Assert.DoesNotMatch(ResourceKey(), line);
        }
    }

    [Fact]
    public void A_spool_directory_the_process_cannot_write_is_named_by_check_and_at_start()
    {
        // The directory is root's (0755) and the server runs as nobody: it exists, but no save could succeed there.
        string dir = TempDir.Create();
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/hits", "spool": "spool.txt" }""");
        string expected = "the directory of spool.txt is not writable by this process (Permission denied)";

        using ServerProcess check = ServerProcess.StartUnder(Nobody, dir, "--check", config);
        Assert.Equal(0, check.WaitForExit(Deadline));
        Assert.Contains(check.Stderr, l => l.Contains(expected, StringComparison.Ordinal));

        using ServerProcess server = ServerProcess.StartUnder(Nobody, dir, config);
        server.WaitForPort(Deadline);
        server.WaitForStderr(l => l.Contains(expected, StringComparison.Ordinal), Deadline);
    }

    /// <summary>What a start or a check prints on stderr that is not a warning (and not the log-only notice).</summary>
    private static string[] Errors(string[] stderr) =>
        [.. stderr.Where(l => !l.StartsWith("pixel-ping: warning: ", StringComparison.Ordinal) && !l.StartsWith("--- ", StringComparison.Ordinal)
            && !l.StartsWith("No endpoint set.", StringComparison.Ordinal))];

    /// <summary>
    /// A .NET resource key printed in place of its sentence: <c>UnauthorizedAccess_IODenied_Path</c>,
    /// <c>Argument_NullCharInPath</c>, <c>CannotReadIncompleteUTF16</c>, <c>net_io_eof</c>.
    /// </summary>
    [GeneratedRegex(@"\b(?:[A-Z][a-z]+[A-Za-z0-9]*_[A-Za-z0-9_]+|[A-Z][a-z]+(?:[A-Z][a-z0-9]+){2,}[A-Z0-9]*|net_[a-z_]+)\b")]
    private static partial Regex ResourceKey();
}
