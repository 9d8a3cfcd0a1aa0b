using System.Runtime.InteropServices;

namespace PixelPing.Lifecycle;

/// <summary>What a stop signal (SIGTERM, SIGINT) means, given the ones before it.</summary>
internal enum StopDecision
{
    /// <summary>The first: stop gracefully, with the final flush.</summary>
    Stop,

    /// <summary>A copy of the first within a second, said in the log (the first such copy only).</summary>
    IgnoreAndSay,

    /// <summary>A further copy within that second: ignored without a word.</summary>
    Ignore,

    /// <summary>A second signal meant as one: exit at once, after saving what is undelivered.</summary>
    ExitNow,
}

/// <summary>
/// Tells a repeated stop signal from a second one. GNU <c>timeout</c> and some supervisors send SIGTERM to the process
/// and then to its process group, so the process gets two copies microseconds apart; taken as "exit now", the second
/// copy would cost the final flush. So the same signal again within a second of the first is ignored, and only a
/// later one, or a different stop signal, means exit at once.
/// </summary>
internal sealed class StopSignals
{
    private const long RepeatWindowMs = 1000;
    private readonly Lock _lock = new();
    private PosixSignal? _first;
    private long _firstAt;
    private bool _said;

    public StopDecision Decide(PosixSignal signal, long nowMs)
    {
        lock (_lock)
        {
            if (_first is null)
            {
                _first = signal;
                _firstAt = nowMs;
                return StopDecision.Stop;
            }

            if (signal == _first && nowMs - _firstAt < RepeatWindowMs)
            {
                bool say = !_said;
                _said = true;
                return say ? StopDecision.IgnoreAndSay : StopDecision.Ignore;
            }

            return StopDecision.ExitNow;
        }
    }
}
