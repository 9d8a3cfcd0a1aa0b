using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>No password, secret or query value reaches the published binary's output, whatever the config holds.</summary>
[Trait("Kind", "External")]
public sealed class SecretsInMessagesTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static (int Code, string Output) Run(string json, params string[] args)
    {
        string dir = TempDir.Create();
        string config = ServerProcess.WriteConfig(json, dir);
        using ServerProcess process = ServerProcess.Start(dir, [.. args, config]);
        int code = process.WaitForExit(Deadline);
        return (code, string.Join('\n', process.Stdout.Concat(process.Stderr)));
    }

    [Theory]
    [InlineData("""{ "endpoint": "http://user:hunter2@host:99999/x" }""", "hunter2")]
    [InlineData("""{ "endpoint": "ftp://user:hunter2@host/x" }""", "hunter2")]
    [InlineData("""{ "endpoint": "https://host:99999/x?token=hunter2" }""", "hunter2")]
    [InlineData("""{ "secret": 1234567 }""", "1234567")]
    public void A_config_error_never_echoes_a_password_or_the_secret(string json, string secret)
    {
        foreach (string[] args in new[] { new[] { "--check" }, Array.Empty<string>() })
        {
            (int code, string output) = Run(json, args);
            Assert.Equal(1, code);
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
            Assert.Contains("must be", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Check_and_the_start_line_show_query_names_with_values_masked()
    {
        const string Query = "?token=abc123&site=docs";
        (int code, string output) = Run($$"""{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/hits{{Query}}", "secret": "s3cr3t" }""", "--check");
        Assert.Equal(0, code);
        Assert.Contains("http://127.0.0.1:9/hits?token=…&site=…", output, StringComparison.Ordinal);
        Assert.DoesNotContain("abc123", output, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", output, StringComparison.Ordinal);

        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""{ "host": "127.0.0.1", "port": 0, "endpoint": "http://127.0.0.1:9/hits{{Query}}", "secret": "s3cr3t" }""", out _);
        Assert.Contains("Flushing hits to http://127.0.0.1:9/hits?token=…&site=…", server.Stdout);
        Assert.DoesNotContain(server.Stdout.Concat(server.Stderr), l => l.Contains("abc123", StringComparison.Ordinal) || l.Contains("s3cr3t", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://stats.example.org/hits", true)]
    [InlineData("http://10.1.2.3/hits", true)]
    [InlineData("http://127.0.0.1:9/hits", false)]
    [InlineData("http://localhost:9/hits", false)]
    [InlineData("https://stats.example.org/hits", false)]
    public void A_secret_sent_over_plain_http_to_another_machine_is_warned_about_by_check_and_at_start(string endpoint, bool warned)
    {
        string json = $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{endpoint}}", "secret": "s" }""";
        (int code, string output) = Run(json, "--check");
        Assert.Equal(0, code);
        Assert.Equal(warned, output.Contains("travel in clear", StringComparison.Ordinal));

        using ServerProcess server = ServerProcess.StartWithConfig(json, out _);
        if (warned)
        {
            // stderr is read apart from stdout: the warning may arrive after the line that says the server listens.
            server.WaitForStderr(l => l.Contains("travel in clear", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        }
        else
        {
            Assert.DoesNotContain(server.Stderr, l => l.Contains("travel in clear", StringComparison.Ordinal));
        }
    }
}
