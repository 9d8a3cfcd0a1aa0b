using System.Runtime.InteropServices;

namespace PixelPing.Lifecycle;

/// <summary>
/// SIGUSR2 flushes, SIGHUP reloads, SIGTERM and SIGINT stop gracefully; a second stop signal exits at once, after
/// saving what is undelivered (a copy of the first within a second is not a second signal: see <see cref="StopSignals"/>).
/// The runtime's <see cref="PosixSignalRegistration"/> takes raw signal numbers cast to <see cref="PosixSignal"/>
/// for the signals it has no name for, such as SIGUSR2.
/// </summary>
internal sealed class Signals : IDisposable
{
    private const int SigUsr2 = 12; // Linux x86-64 and arm64
    private readonly List<PosixSignalRegistration> _registrations = [];
    private readonly StopSignals _stops = new();

    /// <param name="exitNow">
    /// Saves what is undelivered, then writes the line it is given and says how much was saved or lost; returns the
    /// exit code.
    /// </param>
    public Signals(Action flush, Action stop, Action? reload, Func<string, int> exitNow)
    {
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)SigUsr2, context =>
        {
            context.Cancel = true;
            Log.OutNoWait("Got SIGUSR2. Forcing a flush:");
            flush();
        }));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            reload?.Invoke();
        }));
        Action<PosixSignalContext> onStop = context =>
        {
            context.Cancel = true;
            switch (_stops.Decide(context.Signal, Environment.TickCount64))
            {
                case StopDecision.Stop:
                    Log.OutNoWait($"Got {context.Signal}. Finishing requests in progress, flushing, then exiting.");
                    // A stalled stdout may delay the exit by the log's drain time, no more.
                    Log.BeginExit();
                    stop();
                    break;
                case StopDecision.IgnoreAndSay:
                    Log.OutNoWait($"Got {context.Signal} again within a second: ignored as a copy of the first (sent to the process and its group); send it again later to exit at once.");
                    break;
                case StopDecision.ExitNow:
                    // The spool is written before any line; then the log queue drains (for a bounded time, even
                    // with stdout stalled) before the process exits with the code the save decided.
                    int code = exitNow($"Got {context.Signal} again: exiting now, without waiting for the final flush.");
                    Log.Finish();
                    Environment.Exit(code);
                    break;
            }
        };
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, onStop));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, onStop));
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }
    }
}
