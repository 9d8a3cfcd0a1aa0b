using System.Diagnostics;
using System.Text.RegularExpressions;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// No Docker engine runs here, so the image is proven by its contents: the final stage of the <c>Dockerfile</c> is
/// read (its COPY, ENV, USER, ENTRYPOINT and CMD lines), exactly those files are laid out in an empty directory, plus
/// the <c>/etc/hosts</c> and <c>/etc/resolv.conf</c> a container runtime provides, and the executable runs there under
/// <c>chroot</c> as the image's non-root user, with only the image's environment.
/// </summary>
[Trait("Kind", "External")]
[Trait("Emulated", "true")]
public sealed partial class ContainerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>The final stage of the Dockerfile, as the test reads it.</summary>
    internal sealed record Image(List<(string From, string To)> Copies, Dictionary<string, string> Env, string User, string[] Command, string[] HealthCheck);

    internal static Image ReadDockerfile()
    {
        string[] lines = File.ReadAllLines(Path.Combine(Repo.Root, "Dockerfile"));
        int final = Array.FindLastIndex(lines, l => l.StartsWith("FROM ", StringComparison.Ordinal));
        Assert.Equal("FROM scratch", lines[final].Trim());
        var copies = new List<(string, string)>();
        var env = new Dictionary<string, string>();
        string user = "";
        var entrypoint = Array.Empty<string>();
        var cmd = Array.Empty<string>();
        var healthCheck = Array.Empty<string>();
        foreach (string raw in lines.Skip(final + 1))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            string[] words = line.Split(' ', 2);
            switch (words[0])
            {
                case "COPY":
                    Match copy = CopyLine().Match(line);
                    Assert.True(copy.Success, "unsupported COPY form in the final stage: " + line);
                    copies.Add((copy.Groups[1].Value, copy.Groups[2].Value));
                    break;
                case "ENV":
                    string[] pair = words[1].Split('=', 2);
                    env[pair[0]] = pair[1];
                    break;
                case "USER":
                    user = words[1];
                    break;
                case "ENTRYPOINT":
                    entrypoint = JsonArray(words[1]);
                    break;
                case "CMD":
                    cmd = JsonArray(words[1]);
                    break;
                case "HEALTHCHECK":
                    // Options (--interval=…) first, then the command in exec form.
                    Match check = HealthCheckLine().Match(line);
                    Assert.True(check.Success, "unsupported HEALTHCHECK form in the final stage: " + line);
                    healthCheck = JsonArray(check.Groups[1].Value);
                    break;
                case "EXPOSE" or "STOPSIGNAL" or "LABEL":
                    break;
                default:
                    Assert.Fail("the container test does not know how to reproduce: " + line);
                    break;
            }
        }

        return new Image(copies, env, user, [.. entrypoint, .. cmd], healthCheck);
    }

    private static string[] JsonArray(string text) =>
        System.Text.Json.JsonDocument.Parse(text).RootElement.EnumerateArray().Select(e => e.GetString()!).ToArray();

    /// <summary>
    /// Lays out the image in a fresh directory. Files from the build context come from this checkout (the executable
    /// from dist/); the CA bundle is the one the test passes (its own root CA, standing in for the system bundle).
    /// </summary>
    internal static string LayOut(Image image, string caBundle)
    {
        string root = TempDir.Create();
        File.SetUnixFileMode(root, (UnixFileMode)Convert.ToInt32("755", 8));
        foreach ((string from, string to) in image.Copies)
        {
            string source = from switch
            {
                "/src/dist/pixel-ping" => Repo.Binary,
                "/etc/ssl/certs/ca-certificates.crt" => caBundle,
                _ when from.StartsWith("/src/", StringComparison.Ordinal) => Path.Combine(Repo.Root, from["/src/".Length..]),
                _ => throw new InvalidOperationException("the container test cannot reproduce COPY " + from),
            };
            string target = Path.Combine(root, to.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
            File.SetUnixFileMode(target, File.GetUnixFileMode(source) | UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        // What a container runtime adds: name resolution files.
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        File.WriteAllText(Path.Combine(root, "etc", "hosts"), "127.0.0.1 localhost\n::1 localhost ip6-localhost\n");
        File.WriteAllText(Path.Combine(root, "etc", "resolv.conf"), "nameserver 127.0.0.1\n");
        foreach (string dir in Directory.GetDirectories(root, "*", SearchOption.AllDirectories))
        {
            File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("755", 8));
        }

        return root;
    }

    /// <summary>Starts the image's command under chroot as the image's user, with only the image's environment.</summary>
    internal static ServerProcess RunImage(Image image, string root) => RunInImage(image, root, image.Command);

    /// <summary>Starts a command in the laid-out image as the container runtime would (chroot, user, environment).</summary>
    internal static ServerProcess RunInImage(Image image, string root, string[] command)
    {
        Assert.True(Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root" || geteuid() == 0,
            "the empty-root test runs the executable under chroot, which needs root: run the tests as root (CI does)");
        var info = new ProcessStartInfo("chroot")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        info.ArgumentList.Add("--userspec=" + image.User);
        info.ArgumentList.Add(root);
        if (Repo.Runner is { } runner)
        {
            // A cross-built executable runs under its emulator, itself a static executable, copied into the root
            // beside it once (a second command in the same root finds it there, perhaps running).
            string inside = "/" + Path.GetFileName(runner);
            string copy = Path.Combine(root, inside.TrimStart('/'));
            if (!File.Exists(copy))
            {
                File.Copy(runner, copy);
                File.SetUnixFileMode(copy, (UnixFileMode)Convert.ToInt32("755", 8));
            }

            command = [inside, .. command];
        }

        foreach (string word in command)
        {
            info.ArgumentList.Add(word);
        }

        info.Environment.Clear();
        foreach ((string name, string value) in image.Env)
        {
            info.Environment[name] = value;
        }

        return ServerProcess.Start(info);
    }

    [Fact]
    public void The_image_copies_only_the_executable_a_config_and_a_CA_bundle_and_runs_as_non_root()
    {
        Image image = ReadDockerfile();
        Assert.Equal(["/pixel-ping", "/etc/pixel-ping/config.json", "/etc/ssl/certs/ca-certificates.crt"], image.Copies.Select(c => c.To));
        Assert.Matches(@"^[1-9]\d*:[1-9]\d*$", image.User);
        Assert.Equal("/pixel-ping", image.Command[0]);
        string dockerfile = File.ReadAllText(Path.Combine(Repo.Root, "Dockerfile"));
        Assert.Contains("EXPOSE 9187", dockerfile, StringComparison.Ordinal);
        Assert.Contains("STOPSIGNAL SIGTERM", dockerfile, StringComparison.Ordinal);
    }

    [Fact]
    public void The_executable_is_static()
    {
        var ldd = Process.Start(new ProcessStartInfo("ldd", Repo.Binary) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string text = ldd.StandardOutput.ReadToEnd() + ldd.StandardError.ReadToEnd();
        ldd.WaitForExit();
        Assert.Contains("not a dynamic executable", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_an_empty_root_it_serves_counts_resolves_localhost_and_flushes_on_USR2_and_TERM()
    {
        Image image = ReadDockerfile();
        string root = LayOut(image, "/etc/ssl/certs/ca-certificates.crt");
        await using var receiver = new EndpointReceiver();
        // The user's config, mounted over the image's: an endpoint by host name, resolved through /etc/hosts.
        string config = Path.Combine(root, "etc", "pixel-ping", "config.json");
        File.WriteAllText(config, $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"http://localhost:{receiver.Port}/hits\" }}");

        var clock = Stopwatch.StartNew();
        using ServerProcess server = RunImage(image, root);
        int port = server.WaitForPort(Deadline);
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=scratch").Status);
            output.WriteLine($"exec to first pixel in the empty root: {clock.Elapsed.TotalMilliseconds:F1} ms");
            Assert.Equal(200, client.Request("/pixel.gif?key=scratch").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        Assert.True(await receiver.WaitForTotalAsync(2, Deadline), string.Join('\n', server.Stderr));
        using (var client = new RawHttpClient(port))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=last").Status);
        }

        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(2, receiver.Totals["scratch"]);
        Assert.Equal(1, receiver.Totals["last"]);
    }

    [Fact]
    public async Task In_an_empty_root_it_serves_HTTPS_and_flushes_to_an_HTTPS_endpoint_trusted_through_the_CA_bundle()
    {
        var pki = new TestPki("Container");
        var leaf = pki.IssueLeaf();
        string bundle = Path.Combine(TempDir.Create(), "ca-certificates.crt");
        TestPki.WriteCertificates(bundle, pki.Root);
        Image image = ReadDockerfile();
        string root = LayOut(image, bundle);

        // The endpoint is named by host name, and its certificate chains to the root in the image's CA bundle only.
        await using var receiver = new EndpointReceiver(leaf, pki.Intermediate) { Host = "localhost" };
        string mounted = Path.Combine(root, "etc", "pixel-ping");
        ServerFiles files = pki.WriteServerFiles(mounted, leaf);
        foreach (string file in Directory.GetFiles(mounted))
        {
            File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("644", 8));
        }

        string inside(string path) => "/etc/pixel-ping/" + Path.GetFileName(path);
        File.WriteAllText(Path.Combine(mounted, "config.json"),
            $"{{ \"host\": \"127.0.0.1\", \"port\": 0, \"interval\": 3600, \"endpoint\": \"{receiver.Url}\", " +
            $"\"sslkey\": \"{inside(files.Key)}\", \"sslcert\": \"{inside(files.Cert)}\", \"sslca\": \"{inside(files.Ca)}\" }}");

        using ServerProcess server = RunImage(image, root);
        int port = server.WaitForPort(Deadline);
        using (var client = RawHttpClient.ConnectTls(port, [pki.Root]))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=tls-scratch").Status);
            Assert.Equal(200, client.Request("/pixel.gif?key=tls-scratch").Status);
        }

        server.Signal(ServerProcess.SIGUSR2);
        Assert.True(await receiver.WaitForTotalAsync(2, Deadline), string.Join('\n', server.Stderr));
        using (var client = RawHttpClient.ConnectTls(port, [pki.Root]))
        {
            Assert.Equal(200, client.Request("/pixel.gif?key=tls-last").Status);
        }

        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));
        Assert.Equal(2, receiver.Totals["tls-scratch"]);
        Assert.Equal(1, receiver.Totals["tls-last"]);
    }

    [Fact]
    public void The_images_HEALTHCHECK_runs_the_executable_and_follows_the_server()
    {
        Image image = ReadDockerfile();
        Assert.Equal(["/pixel-ping", "--healthcheck", "/etc/pixel-ping/config.json"], image.HealthCheck);
        string root = LayOut(image, "/etc/ssl/certs/ca-certificates.crt");
        // The health check reads the same config as the server, so it needs a port named in advance.
        int port = Ports.Free();
        File.WriteAllText(Path.Combine(root, "etc", "pixel-ping", "config.json"), $"{{ \"host\": \"127.0.0.1\", \"port\": {port}, \"log\": false }}");

        int Check(out string line)
        {
            using ServerProcess check = RunInImage(image, root, image.HealthCheck);
            int code = check.WaitForExit(Deadline);
            line = Assert.Single(check.Stdout.Concat(check.Stderr));
            return code;
        }

        using (ServerProcess server = RunImage(image, root))
        {
            server.WaitForPort(Deadline);
            Assert.True(Check(out string healthy) == 0, healthy);
            Assert.StartsWith("pixel-ping: healthy: ", healthy, StringComparison.Ordinal);
            server.Signal(ServerProcess.SIGTERM);
            Assert.Equal(0, server.WaitForExit(Deadline));
        }

        Assert.True(Check(out string unhealthy) == 1, unhealthy);
        Assert.StartsWith("pixel-ping: unhealthy: ", unhealthy, StringComparison.Ordinal);
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();

    [GeneratedRegex(@"^HEALTHCHECK (?:--[a-z-]+=\S+ )*CMD (\[.*\])$")]
    private static partial Regex HealthCheckLine();

    [GeneratedRegex(@"^COPY --from=build (\S+) (\S+)$")]
    private static partial Regex CopyLine();
}
