using System.Runtime.InteropServices;
using PixelPing.Lifecycle;

namespace PixelPing.Tests.Lifecycle;

public sealed class StopSignalsTests
{
    [Fact]
    public void Copies_of_the_first_signal_within_a_second_are_ignored_and_said_once_then_a_later_one_exits()
    {
        var stops = new StopSignals();
        Assert.Equal(StopDecision.Stop, stops.Decide(PosixSignal.SIGTERM, 50_000));
        Assert.Equal(StopDecision.IgnoreAndSay, stops.Decide(PosixSignal.SIGTERM, 50_000));
        Assert.Equal(StopDecision.Ignore, stops.Decide(PosixSignal.SIGTERM, 50_400));
        Assert.Equal(StopDecision.Ignore, stops.Decide(PosixSignal.SIGTERM, 50_999));
        Assert.Equal(StopDecision.ExitNow, stops.Decide(PosixSignal.SIGTERM, 51_000));
    }

    [Fact]
    public void A_different_stop_signal_is_a_second_signal_at_once()
    {
        var stops = new StopSignals();
        Assert.Equal(StopDecision.Stop, stops.Decide(PosixSignal.SIGTERM, 50_000));
        Assert.Equal(StopDecision.ExitNow, stops.Decide(PosixSignal.SIGINT, 50_001));
    }
}
