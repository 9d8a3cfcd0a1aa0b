using PixelPing.Net;

namespace PixelPing.Tests.Net;

/// <summary>The connection cap and the drain flag, which every event loop of a listener shares.</summary>
public sealed class ConnectionTrackerTests
{
    [Fact]
    public void Places_are_taken_up_to_the_cap_and_a_removal_frees_one()
    {
        var tracker = new ConnectionTracker(2);

        Assert.True(tracker.TryAdd());
        Assert.True(tracker.TryAdd());
        Assert.False(tracker.TryAdd());
        Assert.Equal(2, tracker.Open);

        tracker.Remove();
        Assert.Equal(1, tracker.Open);
        Assert.True(tracker.TryAdd());
        Assert.False(tracker.TryAdd());
        Assert.Equal(2, tracker.Open);
    }

    [Fact]
    public void Concurrent_adds_never_pass_the_cap()
    {
        const int cap = 100;
        var tracker = new ConnectionTracker(cap);
        int granted = 0;

        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            for (int i = 0; i < 1000; i++)
            {
                if (tracker.TryAdd())
                {
                    Interlocked.Increment(ref granted);
                }
            }
        });

        Assert.Equal(cap, granted);
        Assert.Equal(cap, tracker.Open);
    }

    [Fact]
    public void Draining_begins_once_and_stays()
    {
        var tracker = new ConnectionTracker(1);
        Assert.False(tracker.Draining);

        tracker.BeginDrain();
        tracker.BeginDrain();

        Assert.True(tracker.Draining);
        Assert.True(tracker.TryAdd());
    }
}
