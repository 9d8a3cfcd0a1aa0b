using System.Runtime;
using PixelPing.Config;
using PixelPing.Flushing;
using PixelPing.Lifecycle;
using PixelPing.Monitoring;
using PixelPing.Net;
using PixelPing.Tls;

namespace PixelPing;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        // The runtime's X509 code looks up the home directory (for the user certificate stores) when it loads a
        // certificate, and throws when HOME is unset and the user has no /etc/passwd entry, as in an empty root run
        // by a numeric user. Docker sets HOME=/ in that case; do the same when nobody did.
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("HOME")))
        {
            Environment.SetEnvironmentVariable("HOME", "/");
        }

        int code;
        try
        {
            code = await MainCoreAsync(args).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Whatever slipped past the specific checks still ends as one line and exit code 1, never a stack trace.
            Log.Error($"pixel-ping: unexpected error: {e.GetType().Name}: {e.Message}");
            code = 1;
        }

        // Every line is written by the log's own thread: the process waits for them (a bounded time) before it exits.
        Log.Finish();
        return code;
    }

    private static async Task<int> MainCoreAsync(string[] args)
    {
        Command command = CommandLine.Parse(args);
        switch (command.Kind)
        {
            case CommandKind.Version:
                Log.Out(CommandLine.VersionText);
                return 0;
            case CommandKind.Help:
                Log.Out(CommandLine.UsageText);
                return 0;
            case CommandKind.Usage:
                Log.Error("pixel-ping: " + command.Error);
                Log.Error(CommandLine.UsageText);
                return 2;
        }

        var warnings = new List<string>();
        bool loaded = SettingsReader.TryLoad(command.ConfigPath!, out Settings settings, out string error, warnings);
        if (command.Kind == CommandKind.HealthCheck)
        {
            // One line and the exit code, nothing else: the config's warnings are --check's business.
            if (!loaded)
            {
                Log.Error("pixel-ping: unhealthy: " + error);
                return 1;
            }

            (bool up, string line) = await HealthCheck.RunAsync(settings).ConfigureAwait(false);
            if (up)
            {
                Log.Out(line);
            }
            else
            {
                Log.Error(line);
            }

            return up ? 0 : 1;
        }

        if (loaded && command.Kind == CommandKind.Run && settings.JsonLog)
        {
            // From the config's own warnings on, every line of the running server is JSON; --check stays for people.
            Log.UseJson();
        }

        Log.Warnings(warnings);

        if (!loaded)
        {
            Log.Error("pixel-ping: " + error);
            return 1;
        }

        // Raised here, before any socket, for the start and --check alike, so both say the same about the limit.
        if (DescriptorBudget.Process.Describe(settings.MaxConnections, out bool fatal) is { } limit)
        {
            Log.Error("pixel-ping: " + (fatal ? "" : "warning: ") + limit);
            if (fatal)
            {
                return 1;
            }
        }

        // Sockets from a service manager, for the start and --check alike (--no-bind looks at neither them nor the ports).
        SocketActivation? inherited = null;
        if (!command.NoBind)
        {
            var activationWarnings = new List<string>();
            inherited = SocketActivation.Take(out error, activationWarnings);
            Log.Warnings(activationWarnings);
            if (error.Length > 0)
            {
                Log.Error("pixel-ping: " + error);
                return 1;
            }
        }

        if (command.Kind == CommandKind.Check)
        {
            // The certificate files too: a start that would fail on them must not pass the check.
            TlsFiles? tls = TlsFiles.LoadOrExplain(settings, out error);

            if (tls is null)
            {
                Log.Error("pixel-ping: " + error);
                return 1;
            }

            if (!command.NoBind && !CanHave(settings, inherited, out error))
            {
                Log.Error($"pixel-ping: {settings.ConfigPath}: {error}");
                return 1;
            }

            if (settings.Spool is not null && new Spool(settings.Spool).CheckDirectory() is { } spoolProblem)
            {
                Log.Error("pixel-ping: warning: " + spoolProblem);
            }

            Log.Out(settings.Describe() + tls.Describe());

            // A database is reached once, as the start does: a wrong password shows now, as a warning that does not
            // fail the check, since it does not fail the start either (the batches wait for the database).
            IEndpoint? endpoint = Server.CreateEndpoint(settings, tls);
            if (endpoint is not null)
            {
                await using (endpoint.ConfigureAwait(false))
                {
                    (await ProbeResult.LookAsync(endpoint, CancellationToken.None).ConfigureAwait(false))?.Say();
                }
            }

            Log.Out($"pixel-ping: {LogEscape.Text(settings.ConfigPath)}: configuration OK");
            return 0;
        }

        return await RunAsync(settings, inherited).ConfigureAwait(false);
    }

    /// <summary>
    /// --check: what a start takes and another process may hold. The addresses as the start binds them: a host that
    /// does not resolve or is not this machine's, a port in use (by any socket, another Pixel Ping included) or below
    /// 1024 without the privilege fail the check as they would fail the start; then the spool's lock.
    /// </summary>
    private static bool CanHave(Settings settings, SocketActivation? inherited, out string error)
    {
        if (inherited is null)
        {
            if (!Listener.CanBind(settings.Host, settings.Port, settings.Status, out error))
            {
                return false;
            }
        }
        else if (inherited.Status.Length == 0 && settings.Status is { } status && !Listener.CanBind(status.Address.ToString(), status.Port, null, out error))
        {
            error = "\"status\": " + error;
            return false;
        }

        // With sockets passed in, the start waits for the spool's holder (a process before it, still draining).
        error = "";
        if (inherited is null && settings.Spool is not null && !SpoolLock.IsFree(new Spool(settings.Spool), out error))
        {
            error = "\"spool\": " + error;
            return false;
        }

        return true;
    }

    private static async Task<int> RunAsync(Settings settings, SocketActivation? inherited)
    {
        // Full collections (Flusher.CollectReleased asks for one after every large batch) run in the background, as
        // concurrent collection allows: the loops stop for their short suspensions, never for a blocking, compacting
        // collection of the whole heap, which the runtime otherwise chooses now and then; it still does when memory
        // runs short.
        GCSettings.LatencyMode = GCLatencyMode.SustainedLowLatency;

        Server? server = Server.TryCreate(settings, out string error, inherited);
        if (server is null)
        {
            Log.Error("pixel-ping: " + error);
            return 1;
        }

        await using (server.ConfigureAwait(false))
        {
            if (settings.Endpoint is not null)
            {
                Log.Out($"Flushing hits to {settings.Endpoint.Shown}");
            }
            else
            {
                Log.Error($"No endpoint set. Hits won't be flushed, add \"endpoint\" to {LogEscape.Text(settings.ConfigPath)}.");
            }

            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var signals = new Signals(server.Flusher.Request, () =>
            {
                // /readyz turns 503 now, while the pixel port still serves for the shutdown delay.
                server.BeginStopping();
                stop.TrySetResult();
            }, reload: server.ReloadCertificate, exitNow: reason => ExitCodes.AfterStop(server.Flusher.SaveBeforeExit(reason)));
            server.Start();
            if (inherited is not null)
            {
                string sockets = inherited.Count == 1 ? "the listening socket" : $"the {inherited.Count} listening sockets";
                Log.Out($"Serving {sockets} passed in by the service manager (socket activation); \"host\" and \"port\" are not bound.");
            }

            foreach (var endPoint in server.EndPoints)
            {
                Log.Out($"Pixel Ping {CommandLine.Version} listening on {(settings.Tls ? "https" : "http")}://{Listener.FormatAddress(endPoint.Address, endPoint.Port)}/pixel.gif");
            }

            if (server.StatusEndPoint is { } status)
            {
                Log.Out($"Status listener on http://{Listener.FormatAddress(status.Address, status.Port)}/ (/livez, /readyz, /metrics)");
            }

            await stop.Task.ConfigureAwait(false);
            if (settings.ShutdownDelay > TimeSpan.Zero)
            {
                // Time for load balancers to see /readyz fail and send no more clients; hits still count meanwhile.
                Log.Out($"Still serving for {settings.ShutdownDelay.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)} s (shutdowndelay) while /readyz answers 503.");
                await Task.Delay(settings.ShutdownDelay).ConfigureAwait(false);
            }

            long lost = await server.StopAsync().ConfigureAwait(false);
            StatsSnapshot stats = server.Context.Stats.Read();
            Log.Out($"Pixel Ping stopped: served {stats.Pixels} pixels in {stats.Requests} requests.");
            return ExitCodes.AfterStop(lost);
        }
    }
}
