using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// Listening sockets passed in by a service manager (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES), on the published binary:
/// through systemd's own <c>systemd-socket-activate</c>, through a shell that sets <c>LISTEN_PID</c> to the PID it
/// then execs, and a restart under steady load through a wrapper that holds the socket across two processes.
/// </summary>
[Trait("Kind", "External")]
public sealed partial class SocketActivationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = TempDir.Create();

    /// <summary>Sets LISTEN_PID to its own PID, then execs its arguments (the executable) with these redirections.</summary>
    private const string ExecWithPid = "LISTEN_PID=$$; export LISTEN_PID; exec \"$@\"";

    /// <summary>
    /// Holds the listening socket it was given as descriptor 3 and runs the executable with it, LISTEN_FDS=1 and
    /// LISTEN_PID set to the child's own PID; each line on its stdin sends SIGTERM to the running one and starts
    /// another at once. When stdin closes it stops the last one and says how each ended.
    /// </summary>
    private const string Restarter = """
        started=""
        start() {
          sh -c 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"' sh "$@" &
          current=$!
          started="$started $current"
          echo "wrapper: started $current"
        }
        start "$@"
        while read -r _; do
          kill -TERM "$current"
          start "$@"
        done
        kill -TERM "$current"
        for pid in $started; do
          wait "$pid"
          echo "wrapper: $pid exited with $?"
        done
        """;

    private string Config(string json)
    {
        string path = ServerProcess.WriteConfig(json, _dir);
        return path;
    }

    /// <summary>
    /// <c>systemd-socket-activate</c>: listens on each <c>-l</c> address and, at the first connection (or datagram),
    /// execs the command with the sockets from descriptor 3 on. Returned once it listens on all of them.
    /// </summary>
    private async Task<ServerProcess> ActivateAsync(string[] options, string[] command, bool input = false)
    {
        ProcessStartInfo info = ServerProcess.StartInfo(["systemd-socket-activate", .. options, .. command], _dir);
        info.RedirectStandardInput = input;
        ServerProcess process = ServerProcess.Start(info);
        int addresses = options.Count(o => o == "-l");
        await Wait.Until(() => process.Stderr.Count(l => l.StartsWith("Listening on ", StringComparison.Ordinal)) == addresses,
            "systemd-socket-activate to listen", Deadline);
        return process;
    }

    private static string[] Binary(params string[] args) => [.. Repo.CommandFor(Repo.Binary), .. args];

    [Fact]
    public async Task Systemd_socket_activate_hands_over_its_socket_and_the_pixels_are_served_and_flushed()
    {
        await using var receiver = new EndpointReceiver();
        int port = Ports.Free();
        // "port": 0 would bind some free port: the one served must be the passed socket's.
        string config = Config($$"""{ "host": "127.0.0.1", "port": 0, "interval": 3600, "endpoint": "{{receiver.Url}}", "log": false }""");
        using ServerProcess server = await ActivateAsync(["-l", $"127.0.0.1:{port}"], Binary(config));

        // The first connection waits in the socket's queue while the server starts.
        for (int i = 0; i < 20; i++)
        {
            using var client = new RawHttpClient(port);
            Assert.Equal(200, client.Request($"/pixel.gif?key=k{i % 3}").Status);
        }

        Assert.Equal(port, server.WaitForPort(Deadline));
        Assert.Single(server.Stdout, l => l.Contains(" listening on ", StringComparison.Ordinal));
        server.WaitForStdout(l => l.StartsWith("Serving the listening socket passed in by the service manager (socket activation)", StringComparison.Ordinal), Deadline);
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(20, receiver.TotalHits);
    }

    [Fact]
    public async Task Sockets_named_pixel_and_status_serve_the_pixels_and_the_status_listener_apart()
    {
        int port = Ports.Free();
        int status = Ports.Free();
        string config = Config("""{ "host": "127.0.0.1", "port": 0, "log": false }""");
        using ServerProcess server = await ActivateAsync(["-l", $"127.0.0.1:{port}", "-l", $"127.0.0.1:{status}", "--fdname=pixel:status"], Binary(config));

        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=k").Status);
            Assert.Equal(404, client.Request("/metrics").Status);
        }

        server.WaitForStdout(l => l == $"Status listener on http://127.0.0.1:{status}/ (/livez, /readyz, /metrics)", Deadline);
        using (var client = new RawHttpClient(status))
        {
            Assert.Equal(200, client.Request("/livez").Status);
            RawResponse metrics = client.Request("/metrics");
            Assert.Equal(200, metrics.Status);
            Assert.Contains("pixelping_", Encoding.UTF8.GetString(metrics.Body), StringComparison.Ordinal);
        }

        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
    }

    /// <summary>Passed descriptors that cannot be served, through a shell: its redirections, the variables, the line.</summary>
    public static TheoryData<string, string, string?, string> ShellPassed => new()
    {
        { "3</dev/null", "1", null, "pixel-ping: socket activation: descriptor 3 is not a socket" },
        { "3</dev/null", "x", null, "pixel-ping: socket activation: LISTEN_FDS is \"x\", not a number of descriptors" },
        { "3</dev/null", "1", "pixel:status", "pixel-ping: socket activation: LISTEN_FDNAMES names 2 descriptors and LISTEN_FDS passes 1" },
    };

    [Theory]
    [MemberData(nameof(ShellPassed))]
    public void Descriptors_that_cannot_be_served_stop_the_start_and_the_check_in_one_line(string redirections, string count, string? names, string expected)
    {
        string config = Config("""{ "host": "127.0.0.1", "port": 0, "log": false }""");
        foreach (string[] args in (string[][])[[config], ["--check", config]])
        {
            ProcessStartInfo info = ServerProcess.StartInfo(["sh", "-c", ExecWithPid + " " + redirections, "sh", .. Binary(args)], _dir);
            info.Environment["LISTEN_FDS"] = count;
            if (names is not null)
            {
                info.Environment["LISTEN_FDNAMES"] = names;
            }

            using ServerProcess process = ServerProcess.Start(info);
            Assert.Equal(1, process.WaitForExit(Deadline));
            Assert.Equal(expected, Assert.Single(process.Stderr));
        }
    }

    /// <summary>Passed sockets that cannot be served, through systemd-socket-activate: its options, the line.</summary>
    public static TheoryData<string, string> ActivatorPassed => new()
    {
        { "--datagram", "pixel-ping: socket activation: descriptor 3 is not a stream socket (ListenStream= in the socket unit)" },
        { "--fdname=status", "pixel-ping: socket activation: only \"status\" sockets were passed; pass the pixel port's socket too, named \"pixel\"" },
        { "--fdname=pixel:web", "pixel-ping: socket activation: descriptor 4 (\"web\"): name the sockets \"pixel\" and \"status\" (FileDescriptorName= in the socket unit)" },
    };

    [Theory]
    [MemberData(nameof(ActivatorPassed))]
    public async Task Sockets_that_cannot_be_served_stop_the_start_and_the_check_in_one_line(string option, string expected)
    {
        string config = Config("""{ "host": "127.0.0.1", "port": 0, "log": false }""");
        int port = Ports.Free();
        bool datagram = option == "--datagram";
        string[] listen = option.Contains(':', StringComparison.Ordinal)
            ? ["-l", $"127.0.0.1:{port}", "-l", $"127.0.0.1:{Ports.Free()}"]
            : ["-l", $"127.0.0.1:{port}"];
        foreach (string[] args in (string[][])[[config], ["--check", config]])
        {
            using ServerProcess process = await ActivateAsync([.. listen, option], Binary(args));
            // What makes systemd-socket-activate exec the command.
            if (datagram)
            {
                using var udp = new UdpClient();
                udp.Send([1], new IPEndPoint(IPAddress.Loopback, port));
            }
            else
            {
                using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                tcp.Connect(IPAddress.Loopback, port);
            }

            Assert.Equal(1, process.WaitForExit(Deadline));
            Assert.Equal(expected, Assert.Single(process.Stderr, l => l.StartsWith("pixel-ping: ", StringComparison.Ordinal)));
        }
    }

    [Fact]
    public void Sockets_meant_for_another_process_are_left_alone_with_a_warning_and_the_config_port_is_bound()
    {
        string config = Config("""{ "host": "127.0.0.1", "port": 0, "log": false }""");
        // As when a shell between the service manager and the executable runs it as a child instead of exec-ing it.
        using ServerProcess server = ServerProcess.Start(_dir, new Dictionary<string, string> { ["LISTEN_FDS"] = "1", ["LISTEN_PID"] = "1" }, config);

        int port = server.WaitForPort(Deadline);
        string warning = server.WaitForStderr(l => l.Contains("LISTEN_FDS", StringComparison.Ordinal), Deadline);
        Assert.Equal($"pixel-ping: warning: LISTEN_FDS is meant for process \"1\", not this one ({server.Pid}); the sockets passed in are ignored (start pixel-ping with exec)", warning);
        using var client = new RawHttpClient(port);
        Assert.Equal(200, client.Request("/pixel.gif?key=k").Status);
    }

    [Fact]
    public async Task A_restart_under_load_through_a_held_socket_refuses_no_connection_and_loses_no_hit()
    {
        await using var receiver = new EndpointReceiver();
        int port = Ports.Free();
        string config = Config($$"""
            { "host": "127.0.0.1", "port": 0, "interval": 0.5, "endpoint": "{{receiver.Url}}", "spool": "spool.txt", "log": false }
            """);
        using ServerProcess wrapper = await ActivateAsync(["-l", $"127.0.0.1:{port}"], ["sh", "-c", Restarter, "sh", .. Binary(config)], input: true);
        try
        {
            await RestartUnderLoadAsync(wrapper, receiver, port);
        }
        finally
        {
            KillLeftBehind(wrapper);
        }
    }

    private async Task RestartUnderLoadAsync(ServerProcess wrapper, EndpointReceiver receiver, int port)
    {
        // A new connection for every request, from the first (which starts the wrapper) to the last.
        await using var hitter = new Hitter(port, FaultInjectionTests.Keys, clients: 4, connectionPerRequest: true);
        await hitter.WaitForMoreAsync(500, Deadline);
        Assert.Single(wrapper.Stdout, l => l.StartsWith("wrapper: started ", StringComparison.Ordinal));

        // SIGTERM to the first, the second started at once: the first drains and flushes while the second waits for
        // the spool the first leaves behind; new connections queue in the held socket meanwhile.
        await wrapper.Input.WriteLineAsync("restart");
        await wrapper.Input.FlushAsync();
        await Wait.Until(() => wrapper.Stdout.Count(l => l.StartsWith("wrapper: started ", StringComparison.Ordinal)) == 2, "the second start", Deadline);
        await Wait.Until(() => wrapper.Stdout.Count(l => l.Contains(" listening on ", StringComparison.Ordinal)) == 2, "the second to listen", Deadline);
        await hitter.WaitForMoreAsync(500, Deadline);
        await hitter.StopAsync();

        wrapper.Input.Close();
        Assert.Equal(0, wrapper.WaitForExit(Deadline));
        string[] exits = [.. wrapper.Stdout.Where(l => ExitLine().IsMatch(l))];
        bool waited = wrapper.Stdout.Any(l => l.Contains(" is in use by process ", StringComparison.Ordinal));
        output.WriteLine($"answered {hitter.Total}, failed {hitter.Failed} (refused {hitter.Refused}), delivered {receiver.TotalHits}; " +
            $"the second {(waited ? "waited" : "did not wait")} for the spool; {string.Join("; ", exits)}");
        Assert.Equal(2, exits.Length);
        Assert.All(exits, l => Assert.EndsWith(" exited with 0", l, StringComparison.Ordinal));
        Assert.Equal(0, hitter.Refused);
        Assert.Equal(0, hitter.Failed);
        Assert.Equal(hitter.Answered, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
    }

    /// <summary>
    /// The executables the wrapper started that still run when a test fails midway: ending the wrapper does not end
    /// its children. Only while the PID is still the executable's.
    /// </summary>
    private static void KillLeftBehind(ServerProcess wrapper)
    {
        foreach (string line in wrapper.Stdout.Where(l => l.StartsWith("wrapper: started ", StringComparison.Ordinal)))
        {
            int pid = int.Parse(line["wrapper: started ".Length..], System.Globalization.CultureInfo.InvariantCulture);
            try
            {
                if (File.ReadAllText($"/proc/{pid}/cmdline").Contains(Repo.Binary, StringComparison.Ordinal))
                {
                    using Process child = Process.GetProcessById(pid);
                    child.Kill();
                }
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException)
            {
                // Already gone.
            }
        }
    }

    [Fact]
    public void The_socket_unit_and_the_service_pass_systemd_analyze_verify_and_the_check_before_the_start_binds_nothing()
    {
        var units = new Dictionary<string, string>();
        foreach (string unit in (string[])["pixel-ping.socket", "pixel-ping.service"])
        {
            // The executable where the units expect it: systemd-analyze checks that the commands exist.
            units[unit] = File.ReadAllText(Path.Combine(Repo.Root, "deploy", unit));
            File.WriteAllText(Path.Combine(_dir, unit), units[unit].Replace("/usr/local/bin/pixel-ping", Repo.Binary, StringComparison.Ordinal));
        }

        using ServerProcess verify = ServerProcess.Start(ServerProcess.StartInfo(["systemd-analyze", "verify", "./pixel-ping.socket", "./pixel-ping.service"], _dir));
        Assert.Equal(0, verify.WaitForExit(Deadline));
        Assert.Empty(verify.Stdout.Concat(verify.Stderr));
        // systemd runs ExecStartPre= without the socket, which it holds itself meanwhile.
        Assert.Contains("\nExecStartPre=/usr/local/bin/pixel-ping --check --no-bind /etc/pixel-ping/config.json\n", units["pixel-ping.service"], StringComparison.Ordinal);
        Assert.Contains("\nFileDescriptorName=pixel\n", units["pixel-ping.socket"], StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^wrapper: \d+ exited with \d+$")]
    private static partial Regex ExitLine();
}
