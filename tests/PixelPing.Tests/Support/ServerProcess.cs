using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace PixelPing.Tests.Support;

/// <summary>
/// The published executable run as a child process: its stdout and stderr lines are collected as they come, and
/// the tests wait on them (with deadlines) and send it real signals.
/// </summary>
public sealed partial class ServerProcess : IDisposable
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGUSR2 = 12;
    public const int SIGTERM = 15;
    public const int SIGHUP = 1;

    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];

    private ServerProcess(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;

    public string[] Stdout { get { lock (_stdout) { return [.. _stdout]; } } }

    public string[] Stderr { get { lock (_stderr) { return [.. _stderr]; } } }

    /// <summary>Starts the binary (under its emulator, if any: see <see cref="Repo.Runner"/>) with the arguments given (a config path, --check, …).</summary>
    public static ServerProcess Start(string? workingDirectory, params string[] args) =>
        Start(workingDirectory, new Dictionary<string, string>(), args);

    /// <summary>Starts the binary with the arguments given and these variables added to the environment.</summary>
    public static ServerProcess Start(string? workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        ProcessStartInfo info = StartInfo([.. Repo.CommandFor(Repo.Binary), .. args], workingDirectory ?? Path.GetTempPath());
        foreach ((string name, string value) in environment)
        {
            info.Environment[name] = value;
        }

        return Start(info);
    }

    /// <summary>A command (its program first) with its output redirected for <see cref="Start(ProcessStartInfo)"/>.</summary>
    public static ProcessStartInfo StartInfo(string[] command, string workingDirectory)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string word in command[1..])
        {
            info.ArgumentList.Add(word);
        }

        // The executable reads PIXELPING_* variables as config: a test sets the ones it means, never inherits any.
        foreach (string name in info.Environment.Keys.Where(n => n.StartsWith("PIXELPING_", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(name);
        }

        return info;
    }

    /// <summary>
    /// Starts the binary through a launcher that changes what it runs with and then execs it, such as
    /// <c>prlimit --nofile=64:64 --</c> or <c>setpriv --reuid=65534 ...</c>.
    /// </summary>
    public static ServerProcess StartUnder(string[] launcher, string workingDirectory, params string[] args) =>
        Start(StartInfo([.. launcher, .. Repo.CommandFor(Repo.Binary), .. args], workingDirectory));

    /// <param name="readStdout">False: stdout is a pipe that nobody reads (a stalled log reader) until <see cref="ReadStdout"/>.</param>
    public static ServerProcess Start(ProcessStartInfo info, bool readStdout = true)
    {
        var process = new Process { StartInfo = info };
        var server = new ServerProcess(process);
        process.OutputDataReceived += (_, e) => Add(server._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Add(server._stderr, e.Data);
        process.Start();
        if (readStdout)
        {
            process.BeginOutputReadLine();
        }

        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>Starts reading stdout, for a process started without (see <see cref="Start(ProcessStartInfo, bool)"/>).</summary>
    public void ReadStdout() => _process.BeginOutputReadLine();

    private static void Add(List<string> lines, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (lines)
        {
            lines.Add(line);
            Monitor.PulseAll(lines);
        }
    }

    /// <summary>Starts a server on a config given as JSON text (written to a temp file) and waits until it listens.</summary>
    public static ServerProcess StartWithConfig(string json, out int port, string? directory = null)
    {
        directory ??= TempDir.Create();
        ServerProcess server = Start(directory, WriteConfig(json, directory));
        port = server.WaitForPort();
        return server;
    }

    /// <summary>Writes <paramref name="json"/> as config.json in <paramref name="directory"/> (a new one by default); returns its path.</summary>
    public static string WriteConfig(string json, string? directory = null)
    {
        string path = Path.Combine(directory ?? TempDir.Create(), "config.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>Waits for the "listening on" line and returns its port.</summary>
    public int WaitForPort(TimeSpan? timeout = null)
    {
        string line = WaitForStdout(l => ListeningLine().IsMatch(l), timeout ?? TimeSpan.FromSeconds(20));
        return int.Parse(ListeningLine().Match(line).Groups[1].Value);
    }

    public string WaitForStdout(Func<string, bool> match, TimeSpan timeout) => WaitFor(_stdout, match, timeout, "stdout");

    public string WaitForStderr(Func<string, bool> match, TimeSpan timeout) => WaitFor(_stderr, match, timeout, "stderr");

    public int CountStdout(Func<string, bool> match) => Stdout.Count(match);

    private string WaitFor(List<string> lines, Func<string, bool> match, TimeSpan timeout, string which)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            lock (lines)
            {
                string? found = lines.FirstOrDefault(match);
                if (found is not null)
                {
                    return found;
                }

                // Woken by the next line, or after a short while to notice that the process exited.
                Monitor.Wait(lines, 50);
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"no matching {which} line within {timeout}.\nstdout:\n{string.Join('\n', Stdout)}\nstderr:\n{string.Join('\n', Stderr)}");
            }

            if (_process.HasExited && clock.Elapsed > TimeSpan.FromMilliseconds(500))
            {
                _process.WaitForExit();
                lock (lines)
                {
                    string? late = lines.FirstOrDefault(match);
                    if (late is not null)
                    {
                        return late;
                    }
                }

                throw new InvalidOperationException($"the server exited ({_process.ExitCode}) before a matching {which} line.\nstdout:\n{string.Join('\n', Stdout)}\nstderr:\n{string.Join('\n', Stderr)}");
            }
        }
    }

    public void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits for the process to exit and returns its exit code; throws when it does not exit in time.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            throw new TimeoutException($"the server did not exit within {timeout}.\nstdout:\n{string.Join('\n', Stdout)}\nstderr:\n{string.Join('\n', Stderr)}");
        }

        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The process's stdin, when its <see cref="ProcessStartInfo"/> redirected it (a wrapper the test drives).</summary>
    public StreamWriter Input => _process.StandardInput;

    /// <summary>The process's resident set size in KiB, from /proc.</summary>
    public long RssKiB() => ReadStatus("VmRSS:");

    public long PeakRssKiB() => ReadStatus("VmHWM:");

    public int OpenFds() => Directory.GetFiles($"/proc/{_process.Id}/fd").Length;

    private long ReadStatus(string field)
    {
        foreach (string line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line[field.Length..].Trim().Split(' ')[0]);
            }
        }

        throw new InvalidOperationException(field + " not found");
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

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [GeneratedRegex(@"listening on https?://\S*:(\d+)/")]
    private static partial Regex ListeningLine();
}
