using System.Buffers.Binary;
using System.Text;

namespace PixelPing.Flushing.Postgres;

/// <summary>Reads the fields of a backend message's body in order; a body shorter than its fields is a protocol error.</summary>
internal ref struct PgFields(ReadOnlySpan<byte> body)
{
    private ReadOnlySpan<byte> _rest = body;

    public readonly bool IsEmpty => _rest.IsEmpty;

    public readonly ReadOnlySpan<byte> Rest => _rest;

    public byte Byte() => Take(1)[0];

    public short Int16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

    public int Int32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    public ReadOnlySpan<byte> Bytes(int count) => Take(count);

    /// <summary>A NUL-terminated string, as UTF-8 (invalid bytes, which a UTF8 server never sends, become U+FFFD).</summary>
    public string CString()
    {
        int end = _rest.IndexOf((byte)0);
        if (end < 0)
        {
            throw new InvalidDataException("the server sent a string without its terminating NUL");
        }

        string value = Encoding.UTF8.GetString(_rest[..end]);
        _rest = _rest[(end + 1)..];
        return value;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)_rest.Length)
        {
            throw new InvalidDataException("the server sent a message shorter than its fields");
        }

        ReadOnlySpan<byte> taken = _rest[..count];
        _rest = _rest[count..];
        return taken;
    }
}
