using System.Diagnostics;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// A real headless Chromium (Debian's <c>chromium</c>) loads a page from another origin with a
/// <c>&lt;link rel="prefetch"&gt;</c> to one pixel and an <c>&lt;img&gt;</c> of another, against the published binary.
/// Chromium sends <c>Sec-Purpose: prefetch</c> with the prefetch (and <c>Sec-Fetch-Dest: empty</c>); the image is a
/// normal request. Without <c>ignoreprefetch</c> both are counted, which proves the prefetch really arrives; with it,
/// only the image is.
/// </summary>
[Trait("Kind", "External")]
public sealed class ChromiumPrefetchTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Chromium_prefetch_is_ignored_and_the_image_counted(bool ignorePrefetch)
    {
        await using var receiver = new EndpointReceiver();
        using ServerProcess server = ServerProcess.StartWithConfig(
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 0.5, \"endpoint\": \"{receiver.Url}\", \"ignoreprefetch\": {(ignorePrefetch ? "true" : "false")} }}",
            out int port);
        string pixel = $"http://127.0.0.1:{port}/pixel.gif?key=";
        await using var page = new PageServer(
            $"<!doctype html><html><head><link rel=\"prefetch\" href=\"{pixel}prefetched\"></head>" +
            $"<body><img src=\"{pixel}seen\" alt=\"\"></body></html>");

        using Process chromium = StartChromium(page.Url, TempDir.Create());
        try
        {
            var clock = Stopwatch.StartNew();
            bool done;
            do
            {
                await Task.Delay(50);
                IReadOnlyDictionary<string, long> totals = receiver.Totals;
                bool seen = totals.ContainsKey("seen");
                done = ignorePrefetch
                    ? seen && server.CountStdout(l => l == "--- ignored 1 hits: 1 prefetch") == 1
                    : seen && totals.ContainsKey("prefetched");
            }
            while (!done && clock.Elapsed < Deadline && !chromium.HasExited);

            Assert.True(done, $"chromium did not make both requests (page requests: {string.Join(", ", page.Targets)})\n" +
                $"stdout:\n{string.Join('\n', server.Stdout)}\nstderr:\n{string.Join('\n', server.Stderr)}");
        }
        finally
        {
            chromium.Kill(entireProcessTree: true);
            chromium.WaitForExit();
        }

        // One more hit after the prefetch was answered: once it reaches the endpoint, so would any late count.
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=last").Status);
        }

        Assert.True(await receiver.WaitForTotalAsync(ignorePrefetch ? 2 : 3, Deadline));
        var expected = new Dictionary<string, long> { ["seen"] = 1, ["last"] = 1 };
        if (!ignorePrefetch)
        {
            expected["prefetched"] = 1;
        }

        Assert.Equal(expected.OrderBy(p => p.Key), receiver.Totals.OrderBy(p => p.Key));
    }

    private static Process StartChromium(string url, string profile)
    {
        // As root in a container: no sandbox; and nothing in the background that could make requests of its own.
        var info = new ProcessStartInfo("chromium")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--remote-debugging-port=0",
            "--user-data-dir=" + profile, url,
        })
        {
            info.ArgumentList.Add(arg);
        }

        try
        {
            var process = Process.Start(info)!;
            // The output is not needed; drain it so that the browser never blocks on a full pipe.
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return process;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("chromium is not installed: apt-get install chromium (build.sh and .ci/run install it)", e);
        }
    }
}
