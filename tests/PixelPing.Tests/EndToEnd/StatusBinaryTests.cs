using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// The status listener of the published executable, read by the real consumers: promtool, a Prometheus server from
/// Debian's package scraping it every second, and the SIGTERM sequence a load balancer follows.
/// </summary>
[Trait("Kind", "External")]
public sealed class StatusBinaryTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static ServerProcess StartWithStatus(string extra, out int port, out int statusPort, EndpointReceiver? receiver = null)
    {
        string endpoint = receiver is null ? "" : $"\"endpoint\": \"{receiver.Url}\", \"interval\": 3600, ";
        ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"status\": \"127.0.0.1:0\", \"log\": false, {endpoint}{extra} }}", out port);
        // Port 0: the kernel picks the status port as it binds, and the server prints the one it got.
        string line = server.WaitForStdout(l => l.StartsWith("Status listener on http://127.0.0.1:", StringComparison.Ordinal), Deadline);
        statusPort = int.Parse(line.AsSpan()["Status listener on http://127.0.0.1:".Length..line.IndexOf('/', "Status listener on http://".Length)],
            System.Globalization.CultureInfo.InvariantCulture);
        return server;
    }

    private static void SendHits(int port, int count)
    {
        using var client = new RawHttpClient(port);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(200, client.Request($"/pixel.gif?key=page{i % 5}").Status);
        }
    }

    [Fact]
    public async Task A_Prometheus_server_scraping_every_second_reads_the_hits_sent()
    {
        using ServerProcess server = StartWithStatus("", out int port, out int statusPort);
        const int Hits = 37;
        SendHits(port, Hits);

        string dir = TempDir.Create();
        int web = Ports.Free();
        File.WriteAllText(Path.Combine(dir, "prometheus.yml"),
            $"global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: pixelping\n    static_configs:\n      - targets: ['127.0.0.1:{statusPort}']\n");
        var info = new ProcessStartInfo("prometheus")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dir,
        };
        info.ArgumentList.Add("--config.file=" + Path.Combine(dir, "prometheus.yml"));
        info.ArgumentList.Add("--storage.tsdb.path=" + Path.Combine(dir, "data"));
        info.ArgumentList.Add("--web.listen-address=127.0.0.1:" + web.ToString(CultureInfo.InvariantCulture));
        using ServerProcess prometheus = ServerProcess.Start(info);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };

        async Task<string?> Query(string query)
        {
            try
            {
                string json = await http.GetStringAsync($"http://127.0.0.1:{web}/api/v1/query?query={Uri.EscapeDataString(query)}");
                using JsonDocument document = JsonDocument.Parse(json);
                JsonElement result = document.RootElement.GetProperty("data").GetProperty("result");
                return result.GetArrayLength() == 1 ? result[0].GetProperty("value")[1].GetString() : null;
            }
            catch (HttpRequestException)
            {
                return null; // not listening yet
            }
        }

        await Wait.Until(async () =>
        {
            Assert.False(prometheus.HasExited, "prometheus exited:\n" + string.Join('\n', prometheus.Stderr));
            return await Query("pixelping_hits_total{job=\"pixelping\"}") == Hits.ToString(CultureInfo.InvariantCulture)
                && await Query("up{job=\"pixelping\"}") == "1";
        }, "Prometheus scraping every hit with the target up", Deadline);
        Assert.Equal(Hits.ToString(CultureInfo.InvariantCulture), await Query("sum(pixelping_requests_total{code=\"200\"})"));
    }

    [Fact]
    public void Promtool_accepts_a_scrape_of_the_running_executable()
    {
        using ServerProcess server = StartWithStatus("", out int port, out int statusPort);
        SendHits(port, 3);
        using var client = new RawHttpClient(statusPort);
        string text = Scrape.Utf8(client.Request("/metrics").Body);
        var (code, output) = Scrape.PromtoolCheck(text);
        Assert.True(code == 0, output + "\n" + text);
        Dictionary<string, double> samples = Scrape.Parse(text);
        Assert.Equal(3, samples["pixelping_hits_total"]);
        // The process metrics are the server's own, not the test's: its RSS as /proc tells it, give or take.
        Assert.InRange(samples["process_resident_memory_bytes"], server.RssKiB() * 1024 / 2.0, server.RssKiB() * 1024 * 2.0);
        Assert.InRange(samples["process_open_fds"], server.OpenFds() / 2.0, server.OpenFds() * 2.0);
        // The soft limit after the start raised it to the hard one ("Max open files  soft  hard  files").
        string limit = File.ReadLines($"/proc/{server.Pid}/limits").Single(line => line.StartsWith("Max open files", StringComparison.Ordinal));
        Assert.Equal(double.Parse(limit.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], CultureInfo.InvariantCulture), samples["process_max_fds"]);
    }

    [Fact]
    public async Task On_SIGTERM_readyz_fails_at_once_while_hits_still_count_for_the_shutdown_delay()
    {
        await using var receiver = new EndpointReceiver();
        using ServerProcess server = StartWithStatus("\"shutdowndelay\": 4", out int port, out int statusPort, receiver);
        using var status = new RawHttpClient(statusPort);
        Assert.Equal(200, status.Request("/readyz").Status);
        SendHits(port, 2);

        server.Signal(ServerProcess.SIGTERM);
        await Wait.Until(() => status.Request("/readyz").Status == 503, "/readyz turning 503", Deadline);

        // Not ready, but still alive and still counting: a load balancer is taking the instance out.
        Assert.Equal(200, status.Request("/livez").Status);
        server.WaitForStdout(l => l.StartsWith("Still serving for 4 s (shutdowndelay)", StringComparison.Ordinal), Deadline);
        SendHits(port, 3);

        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(5, receiver.TotalHits);
    }
}
