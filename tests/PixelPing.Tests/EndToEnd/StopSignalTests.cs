using System.Diagnostics;
using System.Globalization;
using System.IO.Pipes;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using PixelPing.Flushing;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.EndToEnd;

/// <summary>Stop signals that come twice, against the published binary.</summary>
public sealed partial class StopSignalTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_stop_signal_delivered_twice_at_once_still_ends_with_the_final_flush()
    {
        // The endpoint takes a while to answer, so the final flush is still in progress when the copies arrive.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Slow, SlowDelay = TimeSpan.FromSeconds(2) };
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{receiver.Url}}" }""", out int port);
        using (var client = new RawHttpClient(port))
        {
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(200, client.Request("/pixel.gif?key=twice").Status);
            }
        }

        // As GNU timeout does: to the process, then to its process group. The kernel merges copies that arrive before
        // the first is handled, so the copies go once the first has been taken.
        server.Signal(ServerProcess.SIGTERM);
        server.WaitForStdout(l => l.StartsWith("Got SIGTERM. Finishing", StringComparison.Ordinal), Deadline);
        server.Signal(ServerProcess.SIGTERM);
        server.Signal(ServerProcess.SIGTERM);

        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(4, receiver.Totals["twice"]);
        Assert.Single(server.Stdout, l => l.StartsWith("Got SIGTERM again within a second: ignored", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Stderr, l => l.Contains("exiting", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_second_signal_while_the_final_flush_waits_for_its_answer_saves_the_batch_or_says_it_may_be_stored(bool spool)
    {
        // The final flush hangs (the endpoint never answers); a second signal must not wait for it.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Hang };
        string dir = TempDir.Create();
        string spoolPath = Path.Combine(dir, "spool.txt");
        using ServerProcess server = StartWith(receiver.Url, spool ? spoolPath : null, dir, out int port, "\"timeout\": 600,");
        Hit(port, "first", 3);

        server.Signal(ServerProcess.SIGTERM);
        Assert.True(await receiver.WaitForRequestsAsync(1, Deadline), "the final flush did not start");
        server.Signal(ServerProcess.SIGINT);

        // The request went out whole: the endpoint may have stored it, though no answer will be read.
        Assert.Equal(spool ? 0 : ExitCodes.HitsLost, server.WaitForExit(Deadline));
        Assert.Contains("Got SIGINT again: exiting now, without waiting for the final flush.", server.Stderr);
        if (spool)
        {
            Assert.Contains($"--- spool: wrote 3 undelivered hits in 1 batch to {spoolPath}", server.Stdout);
            Assert.DoesNotContain(server.Stderr, l => l.StartsWith("--- exiting with", StringComparison.Ordinal));
            Assert.Equal(3, SpooledHits(spoolPath));
        }
        else
        {
            Assert.Contains("--- exiting with 0 hits undelivered, 3 possibly stored", server.Stderr);
            Assert.False(File.Exists(spoolPath));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_second_signal_while_the_final_flush_connects_saves_the_batch_or_counts_it_undelivered(bool spool)
    {
        // An https endpoint that takes the connection and never answers the handshake: not a byte of the request is sent.
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen();
        Task<Socket> accepted = silent.AcceptAsync();
        string dir = TempDir.Create();
        string spoolPath = Path.Combine(dir, "spool.txt");
        using ServerProcess server = StartWith($"https://127.0.0.1:{((IPEndPoint)silent.LocalEndPoint!).Port}/hits", spool ? spoolPath : null, dir,
            out int port, "\"timeout\": 600,");
        Hit(port, "first", 3);

        server.Signal(ServerProcess.SIGTERM);
        using Socket connection = await accepted.WaitAsync(Deadline);
        server.Signal(ServerProcess.SIGINT);

        Assert.Equal(spool ? 0 : ExitCodes.HitsLost, server.WaitForExit(Deadline));
        if (spool)
        {
            Assert.Equal(3, SpooledHits(spoolPath));
            Assert.DoesNotContain(server.Stderr, l => l.StartsWith("--- exiting with", StringComparison.Ordinal));
        }
        else
        {
            Assert.Contains("--- exiting with 3 hits undelivered", server.Stderr);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_graceful_stop_whose_final_flush_fails_exits_0_with_a_spool_and_3_without(bool spool)
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        string dir = TempDir.Create();
        string spoolPath = Path.Combine(dir, "spool.txt");
        using ServerProcess server = StartWith(receiver.Url, spool ? spoolPath : null, dir, out int port);
        Hit(port, "refused", 4);

        server.Signal(ServerProcess.SIGTERM);

        Assert.Equal(spool ? 0 : ExitCodes.HitsLost, server.WaitForExit(Deadline));
        Assert.Equal(1, receiver.Requests);
        if (spool)
        {
            Assert.Equal(4, SpooledHits(spoolPath));
        }
        else
        {
            Assert.Contains("--- exiting with 4 hits undelivered", server.Stderr);
        }
    }

    [Fact]
    public async Task When_the_last_spool_save_fails_the_exit_line_says_what_the_old_file_holds_and_what_is_lost()
    {
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Status500 };
        string dir = TempDir.Create();
        string spoolPath = Path.Combine(dir, "spool.txt");
        using ServerProcess server = StartWith(receiver.Url, spoolPath, dir, out int port);
        Hit(port, "saved", 3);
        server.Signal(ServerProcess.SIGUSR2);
        server.WaitForStderr(l => l.StartsWith("--- flush failed with code:500", StringComparison.Ordinal), Deadline);
        Assert.Equal(3, SpooledHits(spoolPath));

        // Every later save fails (the temporary file's name is taken by a directory), as on a full disk.
        Directory.CreateDirectory(spoolPath + ".tmp");
        Hit(port, "unsaved", 2);
        server.Signal(ServerProcess.SIGTERM);

        Assert.Equal(ExitCodes.HitsLost, server.WaitForExit(Deadline));
        Assert.Contains(server.Stderr, l => l.StartsWith($"--- spool: cannot write {spoolPath}: ", StringComparison.Ordinal));
        Assert.Contains($"--- exiting with 2 hits undelivered; 3 more stay in {spoolPath} from an earlier save", server.Stderr);
        Assert.Equal(3, SpooledHits(spoolPath));
    }

    /// <summary>
    /// The audit's reproduction: 30,000 hits on as many keys, then SIGTERM and SIGINT at once. Whatever the final flush
    /// was doing when the second signal came, every hit is delivered or in the spool file, which a restart delivers.
    /// </summary>
    [Fact]
    public async Task TERM_then_INT_at_once_after_30000_keys_loses_nothing_with_a_spool()
    {
        await using var receiver = new EndpointReceiver();
        string dir = TempDir.Create();
        string spoolPath = Path.Combine(dir, "spool.txt");
        using (ServerProcess server = StartWith(receiver.Url, spoolPath, dir, out int port))
        {
            await HitDistinctAsync(port);
            server.Signal(ServerProcess.SIGTERM);
            server.Signal(ServerProcess.SIGINT);
            Assert.Equal(0, server.WaitForExit(Deadline));
        }

        // A batch both delivered and spooled (its answer came after the exit path took it) is sent again with its id,
        // and the receiver stores it once.
        using (ServerProcess again = StartWith(receiver.Url, spoolPath, dir, out _))
        {
            await Wait.Until(() => !File.Exists(spoolPath), "the restart did not deliver the spool file", Deadline);
            again.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, again.WaitForExit(Deadline));
        }

        Assert.Equal(Keys, receiver.TotalHits);
        Assert.Equal(Keys, receiver.Totals.Count);
    }

    [Fact]
    public async Task TERM_then_INT_at_once_after_30000_keys_without_a_spool_counts_every_hit_it_loses()
    {
        // The endpoint answers only after the process is gone, so the final flush cannot end first.
        await using var receiver = new EndpointReceiver { Mode = ReceiverMode.Slow, SlowDelay = TimeSpan.FromSeconds(10) };
        string dir = TempDir.Create();
        using ServerProcess server = StartWith(receiver.Url, null, dir, out int port, "\"timeout\": 600,");
        await HitDistinctAsync(port);

        server.Signal(ServerProcess.SIGTERM);
        server.Signal(ServerProcess.SIGINT);

        Assert.Equal(ExitCodes.HitsLost, server.WaitForExit(Deadline));
        Match line = Assert.Single(server.Stderr.Select(l => ExitingLine().Match(l)), m => m.Success);
        long undelivered = long.Parse(line.Groups[1].Value, CultureInfo.InvariantCulture);
        long possiblyStored = line.Groups[2].Success ? long.Parse(line.Groups[2].Value, CultureInfo.InvariantCulture) : 0;
        Assert.Equal(Keys, undelivered + possiblyStored);
    }

    /// <summary>
    /// The audit's other reproduction: with <c>log</c> on and a stdout nobody reads, the final flush blocks writing its
    /// keys (30,000 lines do not fit in a pipe), and the second signal comes then. Its save must not wait for stdout:
    /// the spool file is written while stdout is still blocked.
    /// </summary>
    [Fact]
    public async Task TERM_then_INT_with_keys_logged_to_a_stdout_nobody_reads_saves_every_hit_first()
    {
        await using var receiver = new EndpointReceiver();
        string dir = TempDir.Create();
        string spoolPath = Path.Combine(dir, "spool.txt");
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, Config(receiver.Url, spoolPath, "\"log\": true,"));
        ProcessStartInfo info = ServerProcess.StartInfo([.. Repo.CommandFor(Repo.Binary), config], dir);
        using var process = new Process { StartInfo = info };
        var stderr = new List<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (stderr)
                {
                    stderr.Add(e.Data);
                }
            }
        };
        Assert.True(process.Start());
        process.BeginErrorReadLine();
        try
        {
            // stdout is read up to the listening line, and then not at all until the spool file is written.
            int port = ListeningPort(process.StandardOutput);
            await HitDistinctAsync(port);
            Assert.Equal(0, kill(process.Id, ServerProcess.SIGTERM));
            // Half a pipe of unread output: only the keys are that long, so the final flush is writing them, and it
            // cannot finish (they are several pipes long) until the test reads.
            var pipe = (PipeStream)process.StandardOutput.BaseStream;
            await Wait.Until(() => Unread(pipe) >= 32 * 1024, "the final flush did not write its keys", Deadline);
            Assert.Equal(0, kill(process.Id, ServerProcess.SIGINT));
            await Wait.Until(() => process.HasExited || File.Exists(spoolPath), "no spool file while stdout was blocked", Deadline);
            Task<string> rest = process.StandardOutput.ReadToEndAsync();
            Assert.True(process.WaitForExit(Deadline), "the server did not exit once stdout was read");
            await rest.WaitAsync(Deadline);
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        // Delivered by the final flush, or in the spool file and delivered by a restart: all of them, once.
        using (ServerProcess again = StartWith(receiver.Url, spoolPath, dir, out _))
        {
            await Wait.Until(() => !File.Exists(spoolPath), "the restart did not deliver the spool file", Deadline);
            again.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, again.WaitForExit(Deadline));
        }

        Assert.Equal(Keys, receiver.TotalHits);
        Assert.Equal(Keys, receiver.Totals.Count);
    }

    private const int Keys = 30_000;

    private static string Config(string endpoint, string? spoolPath, string extra = "") =>
        $$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, {{extra}} {{(spoolPath is null ? "" : $"\"spool\": \"{spoolPath}\",")}} "endpoint": "{{endpoint}}" }""";

    private static ServerProcess StartWith(string endpoint, string? spoolPath, string dir, out int port, string extra = "") =>
        ServerProcess.StartWithConfig(Config(endpoint, spoolPath, extra), out port, dir);

    private static void Hit(int port, string key, int times)
    {
        using var client = new RawHttpClient(port);
        for (int i = 0; i < times; i++)
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=" + key).Status);
        }
    }

    private static async Task HitDistinctAsync(int port)
    {
        const int Connections = 4;
        LoadResult load = await PipelinedLoad.RunAsync(port, Connections, Keys / Connections, static (c, i) => $"/pixel.gif?key=k{c}-{i}", Deadline);
        Assert.Equal(Keys, load.Answered200);
    }

    private static long SpooledHits(string path)
    {
        Assert.Equal(SpoolLoadStatus.Loaded, new Spool(path).Load(out List<Batch> batches, out string problem));
        Assert.Equal("", problem);
        return batches.Sum(b => b.Hits);
    }

    private static int ListeningPort(StreamReader stdout)
    {
        while (stdout.ReadLine() is { } line)
        {
            Match listening = ListeningLine().Match(line);
            if (listening.Success)
            {
                return int.Parse(listening.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("the server ended its stdout before listening");
    }

    /// <summary>Bytes written to the pipe and not read yet (FIONREAD).</summary>
    private static int Unread(PipeStream pipe)
    {
        Assert.Equal(0, ioctl((int)pipe.SafePipeHandle.DangerousGetHandle(), FIONREAD, out int bytes));
        return bytes;
    }

    private const nuint FIONREAD = 0x541B;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, out int value);

    [GeneratedRegex(@"^--- exiting with (\d+) hits undelivered(?:, (\d+) possibly stored)?$")]
    private static partial Regex ExitingLine();

    [GeneratedRegex(@"listening on https?://\S*:(\d+)/")]
    private static partial Regex ListeningLine();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
