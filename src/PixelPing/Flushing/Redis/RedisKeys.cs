using System.Globalization;
using System.Text;
using PixelPing.Common;

namespace PixelPing.Flushing.Redis;

/// <summary>
/// The names of the keys Pixel Ping writes, all under one prefix whose hash tag puts them in one Cluster slot:
/// <list type="bullet">
/// <item><c>&lt;prefix&gt;:hits</c>, a hash of every counted key to its total;</item>
/// <item><c>&lt;prefix&gt;:hits:&lt;yyyy-mm-dd&gt;</c>, a hash of the keys counted on that UTC day to their hits;</item>
/// <item><c>&lt;prefix&gt;:batch:&lt;batch id&gt;:&lt;part&gt;</c>, the ledger: set once a part of a batch is stored,
/// with an expiry.</item>
/// </list>
/// </summary>
internal sealed class RedisKeys
{
    public const string DefaultPrefix = "{pixel-ping}";

    private RedisKeys(string prefix)
    {
        Prefix = prefix;
        Totals = Encoding.UTF8.GetBytes(prefix + ":hits");
        Slot = HashSlot.Of(Totals);
    }

    public string Prefix { get; }

    public byte[] Totals { get; }

    /// <summary>The Cluster hash slot of every key.</summary>
    public int Slot { get; }

    /// <summary>The keys of a prefix the config reader has checked (<see cref="TryCreate"/>).</summary>
    public static RedisKeys Create(string prefix) => TryCreate(prefix, out RedisKeys keys, out string error) ? keys : throw new ArgumentException(error);

    /// <summary>
    /// Checks a prefix: it must hold a non-empty hash tag (<c>{…}</c>, the first <c>{</c> of the prefix closed within
    /// it), so that every key under it has the same slot; and, being part of key names shown in messages, no controls.
    /// </summary>
    public static bool TryCreate(string prefix, out RedisKeys keys, out string error)
    {
        keys = null!;
        byte[] utf8 = Encoding.UTF8.GetBytes(prefix);
        if (prefix.Any(char.IsControl))
        {
            error = $"the Redis key prefix {Quoting.Quote(prefix)} must not contain control characters";
            return false;
        }

        // The tag is found from the key's first "{": a prefix whose tag is empty or unclosed would leave each key hashed
        // whole, and the keys of one batch in different slots.
        if (HashSlot.Tag(utf8).Length == utf8.Length)
        {
            error = $"the Redis key prefix {Quoting.Quote(prefix)} must contain a hash tag such as {DefaultPrefix}, so that all its keys share one Cluster slot";
            return false;
        }

        keys = new RedisKeys(prefix);
        error = "";
        return true;
    }

    /// <summary>The hash of one UTC day's counts.</summary>
    public byte[] Day(DateOnly day) => Encoding.UTF8.GetBytes(Prefix + ":hits:" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

    /// <summary>The ledger key of one part of a batch.</summary>
    public byte[] Ledger(string batch, int part) =>
        Encoding.UTF8.GetBytes(Prefix + ":batch:" + batch + ":" + part.ToString(CultureInfo.InvariantCulture));
}
