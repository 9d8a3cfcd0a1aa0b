namespace PixelPing.Flushing.Redis;

/// <summary>
/// The Redis Cluster hash slot of a key: CRC16 (the XMODEM variant: polynomial 0x1021, initial value 0) of the key's
/// hash tag modulo 16384. The tag is what lies between the first <c>{</c> and the first <c>}</c> after it, when that is
/// not empty; otherwise the whole key is hashed. Keys with the same tag share a slot, which is what lets one script
/// touch all the keys of a batch on a Cluster.
/// </summary>
internal static class HashSlot
{
    public const int Count = 16384;

    private static readonly ushort[] s_table = MakeTable();

    public static int Of(ReadOnlySpan<byte> key) => Crc16(Tag(key)) & (Count - 1);

    /// <summary>The bytes a key is hashed by: its hash tag, or the whole key when it has none.</summary>
    public static ReadOnlySpan<byte> Tag(ReadOnlySpan<byte> key)
    {
        int open = key.IndexOf((byte)'{');
        if (open < 0)
        {
            return key;
        }

        int close = key[(open + 1)..].IndexOf((byte)'}');
        return close <= 0 ? key : key.Slice(open + 1, close);
    }

    public static ushort Crc16(ReadOnlySpan<byte> bytes)
    {
        ushort crc = 0;
        foreach (byte b in bytes)
        {
            crc = (ushort)((crc << 8) ^ s_table[(byte)((crc >> 8) ^ b)]);
        }

        return crc;
    }

    private static ushort[] MakeTable()
    {
        var table = new ushort[256];
        for (int i = 0; i < 256; i++)
        {
            int crc = i << 8;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }

            table[i] = (ushort)crc;
        }

        return table;
    }
}
