using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace PixelPing.Tests.Support;

/// <summary>
/// Debian's nginx as a load balancer on 127.0.0.1, in front of the given upstream ports: its own config, pid file,
/// logs and temp directories in a temp folder, one process (<c>master_process off</c>) in the foreground, stopped with
/// the test.
/// </summary>
public sealed class Nginx : IDisposable
{
    public const string Binary = "/usr/sbin/nginx";

    private readonly Process _process;

    private Nginx(Process process, int port, string directory)
    {
        _process = process;
        Port = port;
        Directory = directory;
    }

    public int Port { get; }

    public string Directory { get; }

    public string ErrorLog => File.Exists(Path.Combine(Directory, "error.log")) ? File.ReadAllText(Path.Combine(Directory, "error.log")) : "";

    public static async Task<Nginx> StartAsync(IReadOnlyList<int> upstreams, TimeSpan timeout)
    {
        Assert.True(File.Exists(Binary), $"{Binary} is missing: install Debian's nginx-light (apt-get install nginx-light), as .ci/run does");
        string dir = TempDir.Create();
        int port = Ports.Free();
        string servers = string.Concat(upstreams.Select(p => $"    server 127.0.0.1:{p};\n"));
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            daemon off;
            master_process off;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 1024; }
            http {
              access_log off;
              client_body_temp_path {{dir}}/body;
              proxy_temp_path {{dir}}/proxy;
              fastcgi_temp_path {{dir}}/fastcgi;
              uwsgi_temp_path {{dir}}/uwsgi;
              scgi_temp_path {{dir}}/scgi;
              upstream pixelping {
            {{servers}}    keepalive 32;
                keepalive_timeout 10s;
              }
              server {
                listen 127.0.0.1:{{port}};
                keepalive_requests 1000000;
                location / {
                  proxy_pass http://pixelping;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  # A request that reached an instance is never replayed on another: that could count it twice.
                  proxy_next_upstream off;
                }
              }
            }
            """);
        var info = new ProcessStartInfo(Binary)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir,
        };
        foreach (string arg in new[] { "-p", dir, "-c", Path.Combine(dir, "nginx.conf"), "-e", Path.Combine(dir, "error.log") })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var nginx = new Nginx(process, port, dir);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                Assert.Fail($"nginx exited with {process.ExitCode}: {nginx.ErrorLog}");
            }

            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
                return nginx;
            }
            catch (SocketException) when (clock.Elapsed < timeout)
            {
            }

            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _process.Dispose();
    }
}
