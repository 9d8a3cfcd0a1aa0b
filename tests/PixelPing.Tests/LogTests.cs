using System.Globalization;
using System.Text.Json;
using PixelPing.Tests.Support;

namespace PixelPing.Tests;

/// <summary><c>"logformat": "json"</c>: every line the executable writes, on both streams, is one JSON object.</summary>
public sealed class LogTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static JsonElement[] Objects(string[] lines) => lines.Select(line =>
    {
        using JsonDocument document = JsonDocument.Parse(line);
        JsonElement root = document.RootElement.Clone();
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        string time = root.GetProperty("time").GetString()!;
        Assert.EndsWith("Z", time, StringComparison.Ordinal);
        Assert.True(DateTimeOffset.TryParseExact(time, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal, out _), time);
        Assert.Contains(root.GetProperty("level").GetString(), new[] { "info", "warning", "error" });
        Assert.False(string.IsNullOrEmpty(root.GetProperty("msg").GetString()), line);
        return root;
    }).ToArray();

    [Fact]
    public async Task In_JSON_every_line_is_an_object_keys_are_JSON_strings_and_flushes_carry_their_figures()
    {
        await using var receiver = new EndpointReceiver();
        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"logformat\": \"json\", \"endpoint\": \"{receiver.Url}\", \"bogus\": 1 }}",
            out int port);
        // Keys a text line could not hold safely: a quote, a backslash, a line break, a tab, non-ASCII.
        string[] keys = ["plain", "a\"quote", "back\\slash", "line\nbreak", "tab\there", "caf\u00e9 \u2713"];
        using (var client = new RawHttpClient(port))
        {
            foreach (string key in keys)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=" + Uri.EscapeDataString(key)).Status);
            }

            Assert.Equal(200, client.Request("/pixel.gif?key=plain").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        Assert.True(await receiver.WaitForTotalAsync(keys.Length + 1, Deadline));
        receiver.Mode = ReceiverMode.Status500;
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=late").Status);
        }

        server.Signal(ServerProcess.SIGTERM);
        // The final flush of "late" fails and no spool is configured: the hit is lost, and the exit code says so.
        Assert.Equal(ExitCodes.HitsLost, server.WaitForExit(Deadline));

        JsonElement[] stdout = Objects(server.Stdout);
        JsonElement[] stderr = Objects(server.Stderr);
        Assert.Contains(stdout, o => o.GetProperty("msg").GetString()!.StartsWith("Pixel Ping ", StringComparison.Ordinal));
        Assert.Contains(stderr, o => o.GetProperty("level").GetString() == "warning" && o.GetProperty("msg").GetString()!.Contains("bogus", StringComparison.Ordinal));

        var counted = stdout.Where(o => o.GetProperty("msg").GetString() == "key")
            .ToDictionary(o => o.GetProperty("key").GetString()!, o => o.GetProperty("count").GetInt64());
        Assert.Equal(2, counted["plain"]);
        foreach (string key in keys.Skip(1))
        {
            Assert.Equal(1, counted[key]);
        }

        JsonElement flushed = Assert.Single(stdout, o => o.GetProperty("msg").GetString() == "flushed");
        Assert.Equal("info", flushed.GetProperty("level").GetString());
        Assert.Equal(200, flushed.GetProperty("status").GetInt32());
        Assert.Equal(keys.Length + 1, flushed.GetProperty("hits").GetInt64());
        Assert.Equal(Assert.Single(receiver.StoredBatchIds), flushed.GetProperty("batch").GetString());
        Assert.True(flushed.GetProperty("duration_ms").GetDouble() >= 0);

        JsonElement failed = Assert.Single(stderr, o => o.GetProperty("msg").GetString() == "flush failed with code:500");
        Assert.Equal("error", failed.GetProperty("level").GetString());
        Assert.Equal(500, failed.GetProperty("status").GetInt32());
        Assert.Equal(1, failed.GetProperty("hits").GetInt64());
        Assert.Contains(stderr, o => o.GetProperty("msg").GetString() == "exiting with 1 hits undelivered");
    }

    [Fact]
    public void In_JSON_a_flush_that_reaches_no_endpoint_has_a_null_status()
    {
        int closed = Ports.Free();
        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"logformat\": \"json\", \"timeout\": 2, \"endpoint\": \"http://127.0.0.1:{closed}/hits\" }}",
            out int port);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=lost").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStderr(l => l.Contains("\"cannot connect to endpoint : ", StringComparison.Ordinal), Deadline);
        server.Signal(ServerProcess.SIGTERM);
        server.WaitForExit(Deadline);
        JsonElement failed = Objects(server.Stderr).First(o => o.GetProperty("msg").GetString()!.StartsWith("cannot connect to endpoint : ", StringComparison.Ordinal));
        Assert.Equal(JsonValueKind.Null, failed.GetProperty("status").ValueKind);
        Assert.Equal(1, failed.GetProperty("hits").GetInt64());
        Objects(server.Stdout);
    }
}
