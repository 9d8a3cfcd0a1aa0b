using System.Globalization;
using PixelPing.Interop;
using static System.FormattableString;

namespace PixelPing.Net;

/// <summary>
/// The open-file limit, and how many connections it leaves room for. A native executable keeps the soft limit it was
/// started with (often 1024; the .NET host would have raised it), so the soft limit is raised to the hard one once, at
/// start. Some descriptors are kept back from connections — the runtime's own, and what a flush (the endpoint socket,
/// name resolution, the CA store), a spool save (the file and its directory) and a certificate reload open — so that
/// connections alone can never starve them: the connection cap in force is
/// <c>min(maxconnections, limit − reserve)</c>.
/// </summary>
internal sealed class DescriptorBudget
{
    private static readonly Lazy<DescriptorBudget> s_process = new(Raise);

    private DescriptorBudget(long limit, int reserve)
    {
        Limit = limit;
        Reserve = reserve;
    }

    /// <summary>The process's budget, after raising its soft limit to the hard one (done once).</summary>
    public static DescriptorBudget Process => s_process.Value;

    /// <summary>The soft open-file limit in force.</summary>
    public long Limit { get; }

    /// <summary>
    /// Descriptors kept from connections: 32 for the flush, the spool and a reload, which each open a handful at most,
    /// plus the runtime's baseline (standard streams, signal pipe, timers: about 8) and three per core (each event
    /// loop's epoll instance, wake-up eventfd and listening socket). 46 on two cores.
    /// </summary>
    public int Reserve { get; }

    /// <summary>How many connections may be open at once under this limit; 0 when the limit leaves none.</summary>
    public int ConnectionCap(int maxConnections) => (int)Math.Clamp(Limit - Reserve, 0, maxConnections);

    /// <summary>
    /// What start and <c>--check</c> say about the limit: null when <paramref name="maxConnections"/> fits, a warning
    /// when the cap in force is lower, and an error (<paramref name="fatal"/>) when the limit leaves no connection at all.
    /// </summary>
    public string? Describe(int maxConnections, out bool fatal)
    {
        int cap = ConnectionCap(maxConnections);
        fatal = cap == 0;
        if (fatal)
        {
            return Invariant($"the open-file limit ({Limit}) leaves no descriptor for connections: {Reserve} are kept for the flush, the spool and certificate reloads; raise it above {Reserve} (ulimit -n, or LimitNOFILE= in the systemd unit)");
        }

        return cap < maxConnections
            ? Invariant($"\"maxconnections\" is {maxConnections} but the open-file limit ({Limit}, of which {Reserve} are kept for the flush, the spool and certificate reloads) allows {cap}: at most {cap} connections at once; raise the limit (ulimit -n, or LimitNOFILE= in the systemd unit) or lower \"maxconnections\"")
            : null;
    }

    private static DescriptorBudget Raise()
    {
        int reserve = 40 + (3 * Environment.ProcessorCount);
        if (!Libc.TryGetFileLimit(out ulong soft, out ulong hard))
        {
            // Cannot happen on Linux; behave as if the limit were unbounded rather than refuse to serve.
            return new DescriptorBudget(long.MaxValue, reserve);
        }

        // An unlimited hard limit cannot be the soft one (the kernel's nr_open caps it, 1,048,576 by default).
        foreach (ulong wanted in (ReadOnlySpan<ulong>)[hard, Math.Min(hard, 1 << 20)])
        {
            if (soft < wanted && Libc.TrySetFileLimit(wanted, hard))
            {
                soft = wanted;
                break;
            }
        }

        return new DescriptorBudget((long)Math.Min(soft, long.MaxValue), reserve);
    }
}
