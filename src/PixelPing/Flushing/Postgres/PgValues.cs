using System.Text;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// The parameters of one statement, in the binary format of each type (the types' send functions): their type OIDs
/// for the Parse message, and their values, each an Int32 length and the bytes, for the Bind message. A key travels
/// here as data, never as SQL text. Arrays are the binary array format: dimensions, a null flag, the element type,
/// each dimension's size and lower bound, then each element with its length.
/// </summary>
internal sealed class PgValues
{
    // Dates and timestamps count from 2000-01-01 (days; microseconds, UTC).
    private static readonly DateOnly s_dateEpoch = new(2000, 1, 1);
    private static readonly long s_timestampEpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private readonly List<uint> _types = [];
    private readonly PgWriter _data = new();
    private int _arrayStart = -1;
    private int _arrayCount;
    private int _arrayCountAt;

    public IReadOnlyList<uint> Types => _types;

    public ReadOnlyMemory<byte> Data => _data.Written;

    public void Int64(long value)
    {
        _types.Add(PgType.Int8);
        _data.Int32(8);
        _data.Int64(value);
    }

    public void Int32(int value)
    {
        _types.Add(PgType.Int4);
        _data.Int32(4);
        _data.Int32(value);
    }

    public void Float8(double value)
    {
        _types.Add(PgType.Float8);
        _data.Int32(8);
        _data.Int64(BitConverter.DoubleToInt64Bits(value));
    }

    public void Text(string value)
    {
        _types.Add(PgType.Text);
        Span<byte> span = _data.GetSpan(4 + Encoding.UTF8.GetMaxByteCount(value.Length));
        int length = Encoding.UTF8.GetBytes(value, span[4..]);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span, length);
        _data.Advance(4 + length);
    }

    public void Date(DateOnly value)
    {
        _types.Add(PgType.Date);
        _data.Int32(4);
        _data.Int32(value.DayNumber - s_dateEpoch.DayNumber);
    }

    public void TimestampTz(DateTimeOffset value)
    {
        _types.Add(PgType.TimestampTz);
        _data.Int32(8);
        _data.Int64((value.UtcTicks - s_timestampEpochTicks) / TimeSpan.TicksPerMicrosecond);
    }

    /// <summary>Starts a one-dimensional array of <paramref name="elementType"/>; elements follow, then <see cref="EndArray"/>.</summary>
    public void StartArray(uint arrayType, uint elementType)
    {
        _types.Add(arrayType);
        _arrayStart = _data.Length;
        _data.Int32(0);             // the value's length, patched at the end
        _data.Int32(1);             // dimensions
        _data.Int32(0);             // no NULL element
        _data.Int32((int)elementType);
        _arrayCountAt = _data.Length;
        _data.Int32(0);             // elements, patched at the end
        _data.Int32(1);             // lower bound
        _arrayCount = 0;
    }

    public void Element(ReadOnlySpan<byte> bytes)
    {
        _data.Int32(bytes.Length);
        _data.Bytes(bytes);
        _arrayCount++;
    }

    public void Element(long value)
    {
        _data.Int32(8);
        _data.Int64(value);
        _arrayCount++;
    }

    /// <summary>A text element: the key's text as <see cref="KeyText"/> writes it.</summary>
    public void KeyTextElement(ReadOnlySpan<byte> key)
    {
        Span<byte> span = _data.GetSpan(4 + KeyText.MaxLength(key.Length));
        int length = KeyText.Write(key, span[4..]);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span, length);
        _data.Advance(4 + length);
        _arrayCount++;
    }

    public void EndArray()
    {
        _data.PatchInt32(_arrayStart, _data.Length - _arrayStart - 4);
        _data.PatchInt32(_arrayCountAt, _arrayCount);
        _arrayStart = -1;
    }
}
