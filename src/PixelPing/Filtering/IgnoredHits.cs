using System.Globalization;
using System.Text;

namespace PixelPing.Filtering;

/// <summary>Hits the filters ignored since the last flush, per reason, and hits counted unchecked because the per-client table was full.</summary>
internal readonly struct IgnoredHits
{
    private static readonly string[] s_names = ["", "bot", "prefetch", "referrer", "key", "address", "per-client"];

    private readonly long[]? _byReason;

    public IgnoredHits(long[] byReason, long uncapped)
    {
        _byReason = byReason;
        Uncapped = uncapped;
    }

    /// <summary>How many reasons there are, <see cref="IgnoreReason.None"/> included: the size of a tally array.</summary>
    public static int Slots => s_names.Length;

    public long Uncapped { get; }

    public long this[IgnoreReason reason] => _byReason is null ? 0 : _byReason[(int)reason];

    public long Total
    {
        get
        {
            long total = 0;
            for (int i = 1; i < s_names.Length; i++)
            {
                total += this[(IgnoreReason)i];
            }

            return total;
        }
    }

    /// <summary>The reason's name in logs and metrics: bot, prefetch, referrer, key, address, per-client.</summary>
    public static string Name(IgnoreReason reason) => s_names[(int)reason];

    /// <summary><c>--- ignored 5 hits: 3 bot, 2 prefetch</c> (only the reasons that happened); null when nothing was ignored.</summary>
    public string? Describe()
    {
        long total = Total;
        if (total == 0)
        {
            return null;
        }

        var line = new StringBuilder("--- ignored ").Append(total.ToString(CultureInfo.InvariantCulture)).Append(" hits:");
        string separator = " ";
        for (int i = 1; i < s_names.Length; i++)
        {
            long count = this[(IgnoreReason)i];
            if (count > 0)
            {
                line.Append(separator).Append(count.ToString(CultureInfo.InvariantCulture)).Append(' ').Append(s_names[i]);
                separator = ", ";
            }
        }

        return line.ToString();
    }
}
