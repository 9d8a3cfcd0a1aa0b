using System.Diagnostics;
using System.Globalization;
using System.Text;
using PixelPing.Flushing.Redis;

namespace PixelPing.Tests.Support;

/// <summary>
/// Debian's redis-server on 127.0.0.1, started by the test in a temp folder of its own: a free port, a password,
/// the append-only file synced on every write (so a kill -9 loses nothing it answered), no RDB snapshots, and on
/// request a TLS port whose certificate comes from <see cref="TestPki.Shared"/> or a node of a Cluster. Stopped with
/// the test; <see cref="Kill"/> and <see cref="StartAgainAsync"/> play a crash and a restart on the same port and data.
/// </summary>
public sealed class Redis : IAsyncDisposable
{
    public const string Binary = "/usr/bin/redis-server";
    public const string Password = "redis test password";

    private readonly string _config;
    private Process _process;

    private Redis(Process process, string directory, string config, int port, int tlsPort)
    {
        _process = process;
        Directory = directory;
        _config = config;
        Port = port;
        TlsPort = tlsPort;
    }

    public int Port { get; }

    /// <summary>0 without TLS.</summary>
    public int TlsPort { get; }

    public string Directory { get; }

    public int Pid => _process.Id;

    public string Log => File.Exists(Path.Combine(Directory, "redis.log")) ? File.ReadAllText(Path.Combine(Directory, "redis.log")) : "";

    /// <summary>The endpoint URL with the password (percent-encoded), on the plain port.</summary>
    public Uri Url(int database = 0) => new($"redis://:{Uri.EscapeDataString(Password)}@127.0.0.1:{Port}/{database}");

    /// <summary>Starts a server; <paramref name="settings"/> are more config lines (<c>appendonly no</c>, …).</summary>
    public static async Task<Redis> StartAsync(bool tls = false, bool cluster = false, params string[] settings)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: install Debian's redis-server (apt-get install redis-server), as .ci/run does");
        string dir = TempDir.Create();
        int port = Ports.Free();
        int tlsPort = tls ? Ports.Free() : 0;
        var config = new StringBuilder($"""
            bind 127.0.0.1
            port {port}
            dir {dir}
            logfile {dir}/redis.log
            daemonize no
            save ""
            appendonly yes
            appendfsync always
            requirepass "{Password}"

            """);
        if (tls)
        {
            using var leaf = TestPki.Shared.IssueLeaf();
            ServerFiles files = TestPki.Shared.WriteServerFiles(dir, leaf);
            // The server sends its chain: the leaf, then the intermediate the clients' root trusts it through.
            TestPki.WriteCertificates(files.Cert, leaf, TestPki.Shared.Intermediate);
            config.Append(CultureInfo.InvariantCulture, $"""
                tls-port {tlsPort}
                tls-cert-file {files.Cert}
                tls-key-file {files.Key}
                tls-ca-cert-file {files.Root}
                tls-auth-clients no

                """);
        }

        if (cluster)
        {
            config.Append(CultureInfo.InvariantCulture, $"""
                cluster-enabled yes
                cluster-config-file {dir}/nodes.conf
                cluster-node-timeout 5000

                """);
        }

        foreach (string setting in settings)
        {
            config.Append(setting).Append('\n');
        }

        string path = Path.Combine(dir, "redis.conf");
        File.WriteAllText(path, config.ToString());
        var redis = new Redis(Launch(path, dir), dir, path, port, tlsPort);
        await redis.WaitReadyAsync();
        return redis;
    }

    /// <summary>kill -9: no shutdown, no last write; what the append-only file holds is what survives.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>The same config, port and data again after <see cref="Kill"/>; returns when it answers PING (the AOF loaded).</summary>
    public async Task StartAgainAsync()
    {
        _process.Dispose();
        _process = Launch(_config, Directory);
        await WaitReadyAsync();
    }

    /// <summary>One command on a connection of its own (authenticated): the words as bulk strings (a string as UTF-8).</summary>
    internal Task<RespReply> CommandAsync(params object[] words) => CommandAsync(Port, words);

    /// <summary>One command to the node on <paramref name="port"/> (of a Cluster, say), with the password.</summary>
    internal static async Task<RespReply> CommandAsync(int port, params object[] words)
    {
        await using RedisConnection connection = await RedisConnection.OpenAsync("127.0.0.1", port, false, null, TimeSpan.FromSeconds(30), CancellationToken.None);
        RespReply auth = await connection.ExchangeAsync(Words("AUTH", Password), 1, CancellationToken.None);
        Assert.True(auth.IsSimple("OK"u8), auth.Text);
        return await connection.ExchangeAsync(Words(words), 1, CancellationToken.None);
    }

    /// <summary>A command of any words: strings (UTF-8), byte arrays, numbers.</summary>
    public static ReadOnlyMemory<byte> Words(params object[] words)
    {
        var command = new RespWriter().Command(words.Length);
        foreach (object word in words)
        {
            _ = word switch
            {
                byte[] bytes => command.Argument(bytes),
                string text => command.Argument(text),
                long number => command.Argument(number),
                int number => command.Argument(number),
                _ => throw new ArgumentException($"a command word cannot be a {word.GetType().Name}"),
            };
        }

        return command.Written;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static Process Launch(string config, string dir)
    {
        var info = new ProcessStartInfo(Binary)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir,
        };
        info.ArgumentList.Add(config);
        var process = Process.Start(info)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitReadyAsync()
    {
        await Wait.Until(async () =>
        {
            Assert.False(_process.HasExited, $"redis-server exited: {Log}");
            try
            {
                // PONG only once the append-only file is loaded: before, the server answers LOADING.
                RespReply pong = await CommandAsync("PING");
                return pong.IsSimple("PONG"u8);
            }
            catch (Exception e) when (e is IOException or TimeoutException)
            {
                return false;
            }
        }, $"redis-server on port {Port} to answer PING");
    }
}
