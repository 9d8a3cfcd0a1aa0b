using System.Diagnostics;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.EndToEnd;

/// <summary>An endpoint failure the tests can switch on and off.</summary>
public enum Fault
{
    RefuseConnections,
    Status500,
    Redirect301,
    TooMany429,
    HangPastTimeout,
    StoreThenHangPastTimeout,
    CloseMidResponse,
    StoreThenCloseMidResponse,
    SlowWithinTimeout,
    SlowPastTimeoutAfterStoring,
}

/// <summary>
/// The published executable flushing to a receiver that misbehaves for several intervals, then recovers, while
/// clients keep hitting: the receiver, which ignores batch ids it has already stored, ends up with exactly the hits
/// that were answered with 200.
/// </summary>
[Trait("Kind", "External")]
public sealed class FaultInjectionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private const double Interval = 0.2;
    // Room for a receiver starved of CPU (the whole suite runs beside it) to answer in time: with 0.5 s, every attempt
    // after the recovery once failed in a full run, timed out as far as the counts tell (never alone, in 50 runs).
    private const double Timeout = 1.0;

    internal static readonly (string Query, string Key)[] Keys =
    [
        ("document:1", "document:1"), ("document:2", "document:2"), ("caf%C3%A9+au+lait", "caf\u00E9 au lait"),
        ("%22quoted%5C%22", "\"quoted\\\""), ("__proto__", "__proto__"),
    ];

    [Theory]
    [InlineData(Fault.RefuseConnections)]
    [InlineData(Fault.Status500)]
    [InlineData(Fault.Redirect301)]
    [InlineData(Fault.TooMany429)]
    [InlineData(Fault.HangPastTimeout)]
    [InlineData(Fault.StoreThenHangPastTimeout)]
    [InlineData(Fault.CloseMidResponse)]
    [InlineData(Fault.StoreThenCloseMidResponse)]
    [InlineData(Fault.SlowWithinTimeout)]
    [InlineData(Fault.SlowPastTimeoutAfterStoring)]
    public async Task Every_hit_answered_is_delivered_exactly_once_through_the_fault(Fault fault)
    {
        await using var receiver = new EndpointReceiver();
        using ServerProcess server = ServerProcess.StartWithConfig(
            $$"""
            { "host": "127.0.0.1", "port": 0, "interval": {{Interval}}, "timeout": {{Timeout}}, "endpoint": "{{receiver.Url}}",
              "secret": "fault-secret", "log": false }
            """, out int port);
        var clock = Stopwatch.StartNew();
        await using var hitter = new Hitter(port, Keys);

        // Healthy first: some batches go through.
        await hitter.WaitForMoreAsync(200, Deadline);
        Assert.True(await receiver.WaitForTotalAsync(1, Deadline));

        // The fault, for several intervals: at least four failed (or, for the slow endpoint, slow) attempts.
        int failuresBefore = Failures(server);
        int requestsBefore = receiver.Requests;
        Apply(receiver, fault);
        await Wait.Until(() => fault == Fault.SlowWithinTimeout
            ? receiver.Requests - requestsBefore >= 4
            : Failures(server) - failuresBefore >= 4, $"{fault}: fewer than four attempts");
        long answeredDuringFault = hitter.Total;

        // Recovery: the kept batch goes through, then everything newer.
        if (fault == Fault.RefuseConnections)
        {
            receiver.Listen();
        }

        receiver.Mode = ReceiverMode.Accept;
        await hitter.WaitForMoreAsync(200, Deadline);
        await hitter.StopAsync();
        server.Signal(ServerProcess.SIGTERM);
        Assert.Equal(0, server.WaitForExit(Deadline));

        long answered = hitter.Total;
        output.WriteLine($"| {fault} | {answered} | {receiver.TotalHits} | {Failures(server) - failuresBefore} failed attempts, " +
            $"{receiver.Requests} requests, {receiver.StoredBatchIds.Count} batches, {clock.Elapsed.TotalSeconds:F1} s |");
        // Shown when the test fails: what the server said about each attempt and at exit.
        output.WriteLine(string.Join('\n', server.Stderr));
        Assert.True(answeredDuringFault > 0);
        Assert.Equal(0, hitter.Failed);
        Assert.Equal(hitter.Answered, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
        Assert.Equal(answered, receiver.TotalHits);
        Assert.DoesNotContain(server.Stderr, l => l.Contains("undelivered", StringComparison.Ordinal));
        string? expectedLine = fault switch
        {
            Fault.Status500 => "--- flush failed with code:500",
            Fault.Redirect301 => "--- flush failed with code:301",
            Fault.TooMany429 => "--- flush failed with code:429",
            Fault.RefuseConnections => "--- cannot connect to endpoint : connection refused",
            Fault.HangPastTimeout or Fault.StoreThenHangPastTimeout or Fault.SlowPastTimeoutAfterStoring =>
                $"--- cannot connect to endpoint : timed out after {Timeout}s",
            _ => null,
        };
        if (expectedLine is not null)
        {
            Assert.Contains(expectedLine, server.Stderr);
        }
    }

    internal static void Apply(EndpointReceiver receiver, Fault fault)
    {
        switch (fault)
        {
            case Fault.RefuseConnections:
                receiver.Refuse();
                break;
            case Fault.SlowWithinTimeout:
                receiver.SlowDelay = TimeSpan.FromSeconds(Timeout / 4);
                receiver.Mode = ReceiverMode.Slow;
                break;
            case Fault.SlowPastTimeoutAfterStoring:
                receiver.SlowDelay = TimeSpan.FromSeconds(Timeout * 2);
                receiver.Mode = ReceiverMode.Slow;
                break;
            default:
                receiver.Mode = fault switch
                {
                    Fault.Status500 => ReceiverMode.Status500,
                    Fault.Redirect301 => ReceiverMode.Redirect301,
                    Fault.TooMany429 => ReceiverMode.TooMany429,
                    Fault.HangPastTimeout => ReceiverMode.Hang,
                    Fault.StoreThenHangPastTimeout => ReceiverMode.StoreThenHang,
                    Fault.CloseMidResponse => ReceiverMode.CloseMidResponse,
                    Fault.StoreThenCloseMidResponse => ReceiverMode.StoreThenCloseMidResponse,
                    _ => throw new ArgumentOutOfRangeException(nameof(fault)),
                };
                break;
        }
    }

    private static int Failures(ServerProcess server) => server.Stderr.Count(l =>
        l.StartsWith("--- flush failed with code:", StringComparison.Ordinal) || l.StartsWith("--- cannot connect to endpoint", StringComparison.Ordinal));
}
