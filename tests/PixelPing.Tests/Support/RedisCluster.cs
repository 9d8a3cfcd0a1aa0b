using System.Diagnostics;
using PixelPing.Flushing.Redis;

namespace PixelPing.Tests.Support;

/// <summary>
/// A Redis Cluster of three masters and no replicas on loopback ports, made as an operator makes one:
/// <c>redis-cli --cluster create</c> over three <see cref="Redis"/> nodes started with <c>cluster-enabled yes</c>.
/// Ready once every node says <c>cluster_state:ok</c>. Moving a slot is done step by step, as <c>redis-cli --cluster
/// reshard</c> does it, so a test can act while the slot is half moved. A class fixture: the tests of a class share
/// one Cluster, each with keys of its own hash tag.
/// </summary>
public sealed class RedisCluster : IAsyncLifetime
{
    public const string Cli = "/usr/bin/redis-cli";

    private Redis[] _nodes = [];

    public IReadOnlyList<Redis> Nodes => _nodes;

    /// <summary>The endpoint URL of the first node, with the password.</summary>
    public Uri Url => Nodes[0].Url();

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(Cli), $"{Cli} is missing: install Debian's redis-tools (apt-get install redis-tools), as .ci/run does");
        Redis[] nodes = _nodes = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Redis.StartAsync(cluster: true)));
        var info = new ProcessStartInfo(Cli)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The password from the environment: on the command line (-a) redis-cli prints a warning about it.
        info.Environment["REDISCLI_AUTH"] = Redis.Password;
        foreach (string word in (string[])["--cluster", "create", .. nodes.Select(n => $"127.0.0.1:{n.Port}"), "--cluster-replicas", "0", "--cluster-yes"])
        {
            info.ArgumentList.Add(word);
        }

        using (var create = Process.Start(info)!)
        {
            Task<string> output = create.StandardOutput.ReadToEndAsync();
            Task<string> errors = create.StandardError.ReadToEndAsync();
            await create.WaitForExitAsync();
            Assert.True(create.ExitCode == 0, $"redis-cli --cluster create exited with {create.ExitCode}: {await output} {await errors}");
        }

        foreach (Redis node in nodes)
        {
            await WaitAsync(node, "cluster_state:ok");
        }
    }

    /// <summary>The node that serves <paramref name="slot"/>, by the first node's view.</summary>
    public async Task<Redis> OwnerAsync(int slot)
    {
        RespReply shards = await Nodes[0].CommandAsync("CLUSTER", "SLOTS");
        foreach (RespReply range in shards.Items!)
        {
            if (range.Items![0].Integer <= slot && slot <= range.Items[1].Integer)
            {
                long port = range.Items[2].Items![1].Integer;
                return Nodes.Single(n => n.Port == port);
            }
        }

        throw new InvalidOperationException($"no node serves slot {slot}");
    }

    /// <summary>
    /// The first half of a slot's move: <paramref name="to"/> importing, <paramref name="from"/> migrating, and every
    /// key of the slot carried over with MIGRATE. Requests for the slot's keys now get ASK from <paramref name="from"/>.
    /// </summary>
    public async Task BeginMoveAsync(int slot, Redis from, Redis to)
    {
        string fromId = (await from.CommandAsync("CLUSTER", "MYID")).Text;
        string toId = (await to.CommandAsync("CLUSTER", "MYID")).Text;
        Ok(await to.CommandAsync("CLUSTER", "SETSLOT", slot, "IMPORTING", fromId));
        Ok(await from.CommandAsync("CLUSTER", "SETSLOT", slot, "MIGRATING", toId));
        while (true)
        {
            RespReply keys = await from.CommandAsync("CLUSTER", "GETKEYSINSLOT", slot, 100);
            if (keys.Items!.Length == 0)
            {
                return;
            }

            object[] migrate = ["MIGRATE", "127.0.0.1", to.Port, "", 0, 30000, "AUTH", Redis.Password, "KEYS", .. keys.Items.Select(k => (object)k.Bytes!)];
            Ok(await from.CommandAsync(migrate));
        }
    }

    /// <summary>The second half: every node told that <paramref name="to"/> serves the slot; its former owner now answers MOVED.</summary>
    public async Task FinishMoveAsync(int slot, Redis to)
    {
        string toId = (await to.CommandAsync("CLUSTER", "MYID")).Text;
        // The new owner first, as redis-cli does, so that no node sends a client to a node that does not know yet.
        foreach (Redis node in Nodes.OrderBy(n => n == to ? 0 : 1))
        {
            Ok(await node.CommandAsync("CLUSTER", "SETSLOT", slot, "NODE", toId));
        }

        foreach (Redis node in Nodes)
        {
            await Wait.Until(async () => await OwnerAsync(slot, node) == to.Port, $"node {node.Port} to see slot {slot} on {to.Port}");
        }
    }

    /// <summary>A counter of <c>INFO</c> on one node, such as <c>errorstat_MOVED</c> or <c>cmdstat_asking</c>; 0 when absent.</summary>
    public static async Task<long> CountAsync(Redis node, string section, string name)
    {
        string info = (await node.CommandAsync("INFO", section)).Text;
        foreach (string line in info.Split("\r\n"))
        {
            // errorstat_MOVED:count=3 and cmdstat_asking:calls=3,usec=…
            if (line.StartsWith(name + ":", StringComparison.Ordinal))
            {
                string value = line[(name.Length + 1)..].Split(',')[0];
                return long.Parse(value[(value.IndexOf('=', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    public async Task DisposeAsync()
    {
        foreach (Redis node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    private static async Task<long> OwnerAsync(int slot, Redis node)
    {
        foreach (RespReply range in (await node.CommandAsync("CLUSTER", "SLOTS")).Items!)
        {
            if (range.Items![0].Integer <= slot && slot <= range.Items[1].Integer)
            {
                return range.Items[2].Items![1].Integer;
            }
        }

        return 0;
    }

    private static async Task WaitAsync(Redis node, string state) =>
        await Wait.Until(async () => (await node.CommandAsync("CLUSTER", "INFO")).Text.Contains(state, StringComparison.Ordinal),
            $"node {node.Port} to say {state}");

    private static void Ok(RespReply reply) => Assert.True(reply.IsSimple("OK"u8) || reply.IsSimple("NOKEY"u8), reply.Text);
}
