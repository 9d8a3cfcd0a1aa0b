using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>Keys reach the published binary's log escaped: a visitor can neither forge a line nor drive the terminal.</summary>
[Trait("Kind", "External")]
public sealed class LogInjectionTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    [Fact]
    public void A_key_cannot_forge_a_count_line_or_send_escape_sequences()
    {
        using ServerProcess server = ServerProcess.StartWithConfig("""{ "host": "127.0.0.1", "port": 0, "interval": 3600 }""", out int port);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=a%0A9999:%09forged").Status);
            Assert.Equal(200, client.Request("/pixel.gif?key=%1B%5B31mred%1B%5D0;title%07").Status);
            Assert.Equal(200, client.Request("/pixel.gif?key=%E2%80%AEevil%C2%9B%00%7F%5C").Status);
            Assert.Equal(200, client.Request("/pixel.gif?key=document:42").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        // The store prints its keys in no set order: each line is waited for.
        foreach (string line in (string[])["1:\ta\\n9999:\\tforged", "1:\t\\u001b[31mred\\u001b]0;title\\u0007", "1:\t\\u202eevil\\u009b\\u0000\\u007f\\\\", "1:\tdocument:42"])
        {
            server.WaitForStdout(l => l == line, Deadline);
        }

        string[] stdout = server.Stdout;
        Assert.DoesNotContain(stdout, l => l.StartsWith("9999:", StringComparison.Ordinal));
        Assert.DoesNotContain(stdout, l => l.Contains('\u001b') || l.Contains('\u202e') || l.Contains('\u009b') || l.Contains('\0'));
    }

    [Fact]
    public void In_JSON_the_bidirectional_controls_of_a_key_are_escaped_as_in_text()
    {
        using ServerProcess server = ServerProcess.StartWithConfig("""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "logformat": "json" }""", out int port);
        using (var client = new RawHttpClient(port))
        {
            // U+202E (right-to-left override), U+2066 (left-to-right isolate), U+2069 (pop isolate), U+202A, a C1 control.
            Assert.Equal(200, client.Request("/pixel.gif?key=%E2%80%AEevil%E2%81%A6x%E2%81%A9%E2%80%AA%C2%9B").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        string line = server.WaitForStdout(l => l.Contains("\"msg\":\"key\"", StringComparison.Ordinal), Deadline);
        Assert.Contains("\"key\":\"\\u202Eevil\\u2066x\\u2069\\u202A\\u009B\"", line, StringComparison.Ordinal);
        using System.Text.Json.JsonDocument json = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("\u202eevil\u2066x\u2069\u202a\u009b", json.RootElement.GetProperty("key").GetString());
        Assert.DoesNotContain(server.Stdout, l => l.Any(c => c is >= '\u202a' and <= '\u202e' or >= '\u2066' and <= '\u2069'));
    }

    [Fact]
    public void Config_values_that_check_and_the_start_print_are_escaped_too()
    {
        string dir = TempDir.Create();
        string config = Path.Combine(dir, "config.json");
        // A host with a right-to-left override (which no name resolves: both the check and the start refuse it, in
        // one escaped line), then an endpoint path with an escape sequence and a spool path with a tab.
        File.WriteAllText(config, """{ "host": "\u202e127.0.0.1", "port": 0 }""");
        using ServerProcess refused = ServerProcess.Start(dir, "--check", config);
        Assert.Equal(1, refused.WaitForExit(Deadline));
        using ServerProcess refusedStart = ServerProcess.Start(dir, config);
        Assert.Equal(1, refusedStart.WaitForExit(Deadline));
        foreach (string line in refused.Stderr.Concat(refusedStart.Stderr))
        {
            Assert.Contains("cannot resolve host \"\\u202e127.0.0.1\"", line, StringComparison.Ordinal);
            Assert.DoesNotContain('\u202e', line);
        }

        File.WriteAllText(config, """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/a\u001b[31m", "spool": "sp\tool" }""");
        using ServerProcess check = ServerProcess.Start(dir, "--check", config);
        Assert.Equal(0, check.WaitForExit(Deadline));
        string output = string.Join('\n', check.Stdout.Concat(check.Stderr));
        Assert.Contains("http://127.0.0.1:9/a\\u001b[31m", output, StringComparison.Ordinal);
        Assert.Contains("sp\\tool", output, StringComparison.Ordinal);
        Assert.DoesNotContain('\u202e', output);
        Assert.DoesNotContain('\u001b', output);
        Assert.DoesNotContain('\t', output);

        File.WriteAllText(config, """{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/a\u001b[31m\u202e" }""");
        using ServerProcess server = ServerProcess.Start(dir, config);
        server.WaitForPort(Deadline);
        Assert.Contains("Flushing hits to http://127.0.0.1:9/a\\u001b[31m\\u202e", server.Stdout);
    }
}
