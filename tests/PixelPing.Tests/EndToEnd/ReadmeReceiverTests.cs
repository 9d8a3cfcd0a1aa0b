using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// The receiver the README shows, run exactly as written there (its Python block is read from README.md) with python3,
/// against the published executable: the counts land in its SQLite database, a batch id sent again is not counted
/// twice, and a batch without the right signature is refused.
/// </summary>
[Trait("Kind", "External")]
public sealed partial class ReadmeReceiverTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private const string Secret = "readme-receiver-secret";

    [Fact]
    public void The_readme_receiver_stores_each_batch_once_and_refuses_forged_ones()
    {
        string dir = TempDir.Create();
        string script = Path.Combine(dir, "receiver.py");
        File.WriteAllText(script, ReadmePython());
        string db = Path.Combine(dir, "hits.db");

        // As the README runs it: the port and the database as arguments (port 0: the one it got is printed), the
        // secret from the environment.
        ProcessStartInfo info = ServerProcess.StartInfo(["python3", script, "0", db], dir);
        info.Environment["PIXEL_PING_SECRET"] = Secret;
        using ServerProcess receiver = ServerProcess.Start(info);
        string listening = receiver.WaitForStdout(l => ReceivingLine().IsMatch(l), Deadline);
        int receiverPort = int.Parse(ReceivingLine().Match(listening).Groups[1].Value);

        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"http://127.0.0.1:{receiverPort}/hits\", \"secret\": \"{Secret}\" }}",
            out int port);
        Hit(port, "readme", 5);
        Hit(port, "caf%C3%A9+au+lait", 2);
        Hit(port, "__proto__", 1);

        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStdout(l => l == "--- flushed ---", Deadline);
        Assert.Equal(new Dictionary<string, long> { ["readme"] = 5, ["café au lait"] = 2, ["__proto__"] = 1 }, Counts(db));
        string batch = Assert.Single(Batches(db));

        // The same batch id again, signed, as a resend after a lost answer would come: answered as done, not counted.
        Assert.Equal(204, Post(receiverPort, Body("{\"readme\":100}", batch), Sign(Secret)));
        // A new id with the right signature is counted, so the refusals below are the receiver's checks at work.
        Assert.Equal(204, Post(receiverPort, Body("{\"readme\":7}", "direct-1"), Sign(Secret)));
        Assert.Equal(12, Counts(db)["readme"]);

        // Forged: signed with another secret, or not signed at all.
        Assert.Equal(403, Post(receiverPort, Body("{\"readme\":1000}", "forged-1"), Sign("not-the-secret")));
        Assert.Equal(403, Post(receiverPort, Body("{\"readme\":1000}", "forged-2"), _ => null));
        Assert.Equal(12, Counts(db)["readme"]);
        Assert.Equal(2, Batches(db).Count);

        // The shutdown's final flush goes to it too.
        Hit(port, "readme", 3);
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(2, server.Stdout.Count(l => l == "--- flushed ---"));
        Assert.Equal(new Dictionary<string, long> { ["readme"] = 15, ["café au lait"] = 2, ["__proto__"] = 1 }, Counts(db));
        Assert.Equal(3, Batches(db).Count);
        Assert.False(receiver.HasExited, "the receiver exited:\n" + string.Join('\n', receiver.Stderr));
    }

    /// <summary>The one Python code block of README.md, as the README shows it.</summary>
    private static string ReadmePython()
    {
        string readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md")).ReplaceLineEndings("\n");
        MatchCollection blocks = PythonBlock().Matches(readme);
        Assert.True(blocks.Count == 1, $"README.md has {blocks.Count} ```python blocks; the test runs the one receiver");
        return blocks[0].Groups[1].Value;
    }

    private static void Hit(int port, string query, int times)
    {
        using var client = new RawHttpClient(port);
        for (int i = 0; i < times; i++)
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=" + query).Status);
        }
    }

    /// <summary>A flush body as Pixel Ping writes it: json, secret, batch, each percent-encoded.</summary>
    private static byte[] Body(string json, string batch) =>
        Encoding.ASCII.GetBytes($"json={Uri.EscapeDataString(json)}&secret={Uri.EscapeDataString(Secret)}&batch={Uri.EscapeDataString(batch)}");

    private static Func<byte[], string?> Sign(string secret) =>
        body => "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>POSTs a body straight to the receiver, as Pixel Ping would, and returns the status it answered.</summary>
    private static int Post(int port, byte[] body, Func<byte[], string?> signature)
    {
        using var client = new RawHttpClient(port);
        string? header = signature(body);
        client.Send($"POST /hits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n" +
            $"Content-Length: {body.Length}\r\n{(header is null ? "" : "X-Pixel-Ping-Signature: " + header + "\r\n")}\r\n");
        client.Send(body);
        return client.Read().Status;
    }

    private static Dictionary<string, long> Counts(string db)
    {
        using JsonDocument rows = JsonDocument.Parse(Sqlite(db, "SELECT key, hits FROM counts"));
        return rows.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
    }

    private static List<string> Batches(string db)
    {
        using JsonDocument rows = JsonDocument.Parse(Sqlite(db, "SELECT id, 0 FROM batches"));
        return [.. rows.RootElement.EnumerateObject().Select(p => p.Name)];
    }

    /// <summary>A two-column query's rows as one JSON object, read with python3's own sqlite3 (the test project has no SQLite).</summary>
    private static string Sqlite(string db, string query)
    {
        ProcessStartInfo info = ServerProcess.StartInfo(
            ["python3", "-c", "import json, sqlite3, sys; print(json.dumps(dict(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchall())))", db, query],
            Path.GetDirectoryName(db)!);
        using ServerProcess python = ServerProcess.Start(info);
        Assert.True(python.WaitForExit(Deadline) == 0, "python3 could not read " + db + ":\n" + string.Join('\n', python.Stderr));
        return Assert.Single(python.Stdout);
    }

    [GeneratedRegex(@"^receiving on port (\d+)$")]
    private static partial Regex ReceivingLine();

    [GeneratedRegex("^```python\n(.*?)^```$", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex PythonBlock();
}
