using System.Diagnostics;
using PixelPing.Tests.Support;
using Xunit.Abstractions;

namespace PixelPing.Tests.EndToEnd;

/// <summary>
/// Three processes of the published executable behind nginx (Debian's nginx-light) on 127.0.0.1, flushing to one
/// receiver that flaps between working and every kind of failure: the totals across instances are exact.
/// </summary>
[Trait("Kind", "External")]
public sealed class LoadBalancerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Three_instances_behind_nginx_with_a_flapping_endpoint_deliver_exactly_the_hits_answered()
    {
        await using var receiver = new EndpointReceiver();
        var instances = new List<ServerProcess>();
        try
        {
            var ports = new List<int>();
            for (int i = 0; i < 3; i++)
            {
                instances.Add(ServerProcess.StartWithConfig(
                    $$"""
                    { "host": "127.0.0.1", "port": 0, "interval": 0.2, "timeout": 0.4, "endpoint": "{{receiver.Url}}",
                      "spool": "spool.txt", "log": false }
                    """, out int port));
                ports.Add(port);
            }

            using Nginx nginx = await Nginx.StartAsync(ports, Deadline);
            var clock = Stopwatch.StartNew();
            await using var hitter = new Hitter(nginx.Port, FaultInjectionTests.Keys, clients: 4);
            await hitter.WaitForMoreAsync(300, Deadline);

            // The endpoint flaps through every failure, each for a little longer than a flush interval.
            Fault[] faults = Enum.GetValues<Fault>();
            foreach (Fault fault in faults.Concat(faults))
            {
                FaultInjectionTests.Apply(receiver, fault);
                await hitter.WaitForMoreAsync(100, Deadline);
                await Task.Delay(300);
                if (fault == Fault.RefuseConnections)
                {
                    receiver.Listen();
                }

                receiver.Mode = ReceiverMode.Accept;
                await hitter.WaitForMoreAsync(50, Deadline);
            }

            await hitter.StopAsync();
            foreach (ServerProcess instance in instances)
            {
                instance.Signal(ServerProcess.SIGTERM);
            }

            foreach (ServerProcess instance in instances)
            {
                Assert.Equal(0, instance.WaitForExit(Deadline));
                Assert.DoesNotContain(instance.Stderr, l => l.Contains("undelivered", StringComparison.Ordinal));
            }

            // Batch ids begin with the instance's random id: every instance took part.
            int senders = receiver.StoredBatchIds.Select(id => id[..id.IndexOf('-')]).Distinct().Count();
            int failures = instances.Sum(s => s.Stderr.Count(l =>
                l.StartsWith("--- flush failed", StringComparison.Ordinal) || l.StartsWith("--- cannot connect", StringComparison.Ordinal)));
            output.WriteLine($"| 3 instances behind nginx, endpoint flapping through {faults.Length * 2} faults | {hitter.Total} | {receiver.TotalHits} | " +
                $"{failures} failed flushes, {receiver.Requests} requests, {receiver.StoredBatchIds.Count} batches from {senders} instances, " +
                $"{hitter.Failed} requests without a 200, {clock.Elapsed.TotalSeconds:F1} s |");
            Assert.Equal(3, senders);
            Assert.True(failures >= faults.Length, $"only {failures} failed flushes");
            Assert.Equal(hitter.Answered, receiver.Totals.ToDictionary(p => p.Key, p => p.Value));
            Assert.Equal(hitter.Total, receiver.TotalHits);
        }
        finally
        {
            instances.ForEach(s => s.Dispose());
        }
    }
}
