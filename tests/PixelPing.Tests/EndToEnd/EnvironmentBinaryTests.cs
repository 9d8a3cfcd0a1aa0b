using System.Net;
using System.Net.Sockets;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// The executable configured through <c>PIXELPING_*</c> variables, and the operations keys' bad input: a start and a
/// <c>--check</c> of the same config and environment fail alike, in one line.
/// </summary>
public sealed class EnvironmentBinaryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static string WriteConfig(string json)
    {
        string path = Path.Combine(TempDir.Create(), "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task Variables_configure_the_server_and_check_names_them_as_the_source()
    {
        await using var receiver = new EndpointReceiver();
        string secretFile = Path.Combine(TempDir.Create(), "secret");
        File.WriteAllText(secretFile, "from-a-file\n");
        string config = WriteConfig("{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"http://127.0.0.1:1/never\" }");
        var environment = new Dictionary<string, string>
        {
            ["PIXELPING_ENDPOINT"] = receiver.Url,
            ["PIXELPING_SECRET_FILE"] = secretFile,
            ["PIXELPING_LOG"] = "false",
        };

        using (ServerProcess check = ServerProcess.Start(null, environment, "--check", config))
        {
            Assert.Equal(0, check.WaitForExit(Deadline));
            // The query value is masked (it may be a token).
            Assert.Contains($"endpoint:       {receiver.Url.Replace("site=test", "site=…", StringComparison.Ordinal)} (from environment PIXELPING_ENDPOINT)", check.Stdout);
            Assert.Contains("secret:         (set) (from environment PIXELPING_SECRET_FILE)", check.Stdout);
            Assert.Contains("interval:       3600 s (from " + config + ")", check.Stdout);
            Assert.DoesNotContain(check.Stdout, l => l.Contains("from-a-file", StringComparison.Ordinal));
        }

        using ServerProcess server = ServerProcess.Start(null, environment, config);
        int port = server.WaitForPort(Deadline);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=env").Status);
        }

        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        ReceivedFlush flush = Assert.Single(receiver.Received);
        Assert.Equal("from-a-file", flush.Form["secret"]);
        Assert.Equal(1, flush.Counts["env"]);
        Assert.DoesNotContain(server.Stdout, l => l.Contains("env", StringComparison.Ordinal) && l.Contains(":\t", StringComparison.Ordinal));
    }

    public static TheoryData<string, string, string, string> BadInput => new()
    {
        // config, variable, its value, what the one line must contain
        { "{ \"status\": \"nowhere\" }", "", "", "\"status\" must be an address and port" },
        { "{ \"host\": \"127.0.0.1\", \"port\": 0, \"status\": \"127.0.0.1:IN_USE\" }", "", "", "\"status\": cannot listen on 127.0.0.1:" },
        { "{ \"logformat\": \"xml\" }", "", "", "\"logformat\" must be \"text\" or \"json\" (got \"xml\")" },
        { "{ }", "PIXELPING_PORT", "abc", "environment variable PIXELPING_PORT: \"port\" must be" },
        { "{ }", "PIXELPING_SHUTDOWNDELAY", "-5", "environment variable PIXELPING_SHUTDOWNDELAY: \"shutdowndelay\" must be" },
        { "{ }", "PIXELPING_NOPE", "1", "environment variable PIXELPING_NOPE: no config key is named \"nope\"" },
        { "{ }", "PIXELPING_SECRET", "", "environment variable PIXELPING_SECRET: \"secret\" is empty, which would send no secret" },
        { "{ }", "PIXELPING_SECRET_FILE", "EMPTY_FILE", "environment variable PIXELPING_SECRET_FILE: \"secret\" is empty (" },
    };

    [Theory]
    [MemberData(nameof(BadInput))]
    public void Bad_input_stops_the_start_and_the_check_alike_in_one_line(string json, string variable, string value, string mention)
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        json = json.Replace("IN_USE", ((IPEndPoint)taken.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        string config = WriteConfig(json);
        if (value == "EMPTY_FILE")
        {
            // What `echo > secret` leaves: a line break and nothing else.
            value = Path.Combine(TempDir.Create(), "secret");
            File.WriteAllText(value, "\n");
        }

        var environment = variable.Length == 0 ? new Dictionary<string, string>() : new Dictionary<string, string> { [variable] = value };

        string[] lines = new string[2];
        int i = 0;
        foreach (string[] args in new[] { new[] { config }, new[] { "--check", config } })
        {
            using ServerProcess process = ServerProcess.Start(null, environment, args);
            Assert.Equal(1, process.WaitForExit(Deadline));
            Assert.Empty(process.Stdout);
            lines[i++] = Assert.Single(process.Stderr);
        }

        Assert.Contains(mention, lines[0], StringComparison.Ordinal);
        Assert.Equal(lines[0], lines[1]);
    }
}
