using System.Diagnostics;

namespace PixelPing.Tests.Support;

/// <summary>Waiting on a condition with a deadline, never on a fixed sleep.</summary>
public static class Wait
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="what"/> at the deadline.</summary>
    public static async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < limit, $"not within {limit.TotalSeconds:0.#} s: {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Awaits <paramref name="condition"/> until it holds; fails with <paramref name="what"/> at the deadline.</summary>
    public static async Task Until(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < limit, $"not within {limit.TotalSeconds:0.#} s: {what}");
            await Task.Delay(20);
        }
    }
}
