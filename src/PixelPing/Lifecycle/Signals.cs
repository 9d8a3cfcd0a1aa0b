using System.Runtime.InteropServices;

namespace PixelPing.Lifecycle;

/// <summary>
/// SIGUSR2 flushes, SIGHUP reloads, SIGTERM and SIGINT stop gracefully; a second stop signal exits at once.
/// The runtime's <see cref="PosixSignalRegistration"/> takes raw signal numbers cast to <see cref="PosixSignal"/>
/// for the signals it has no name for, such as SIGUSR2.
/// </summary>
internal sealed class Signals : IDisposable
{
    private const int SigUsr2 = 12; // Linux x86-64 and arm64
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _stops;

    public Signals(Action flush, Action stop, Action? reload)
    {
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)SigUsr2, context =>
        {
            context.Cancel = true;
            Log.Out("Got SIGUSR2. Forcing a flush:");
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
            if (Interlocked.Increment(ref _stops) == 1)
            {
                Log.Out($"Got {context.Signal}. Finishing requests in progress, flushing, then exiting.");
                stop();
            }
            else
            {
                Log.Error($"Got {context.Signal} again: exiting now without the final flush.");
                Environment.Exit(1);
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
