using System.Buffers.Binary;
using System.Text;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// A growing buffer of protocol bytes: frontend messages (a type byte, then an Int32 length that counts itself and
/// the body, PostgreSQL protocol 3.0 §55.7) and the length-prefixed values of a Bind. Integers are big-endian.
/// </summary>
internal sealed class PgWriter
{
    // A buffer that grew for a large statement is not kept between flushes: the next one starts small again.
    private const int KeptCapacity = 1 << 20;

    private byte[] _buffer = new byte[4096];
    private int _length;
    private int _messageStart = -1;

    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    public int Length => _length;

    /// <summary>Empties the buffer, and drops it for a small one when a large statement made it grow.</summary>
    public void Reset()
    {
        _length = 0;
        _messageStart = -1;
        if (_buffer.Length > KeptCapacity)
        {
            _buffer = new byte[4096];
        }
    }

    /// <summary>A message with a type byte; <see cref="EndMessage"/> writes its length.</summary>
    public void StartMessage(byte type)
    {
        Byte(type);
        StartUntyped();
    }

    /// <summary>The startup-phase messages (StartupMessage, SSLRequest, CancelRequest) have a length but no type byte.</summary>
    public void StartUntyped()
    {
        _messageStart = _length;
        Int32(0);
    }

    /// <summary>Writes the message's length; <paramref name="following"/> counts body bytes the caller sends from elsewhere after these.</summary>
    public void EndMessage(int following = 0)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_messageStart), _length - _messageStart + following);
        _messageStart = -1;
    }

    public void Byte(byte value)
    {
        Ensure(1);
        _buffer[_length++] = value;
    }

    public void Int16(short value)
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_buffer.AsSpan(_length), value);
        _length += 2;
    }

    public void Int32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    public void Int64(long value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    /// <summary>A NUL-terminated UTF-8 string; the callers never pass one with a NUL inside (their text is ours or checked).</summary>
    public void CString(string value)
    {
        Ensure(Encoding.UTF8.GetMaxByteCount(value.Length) + 1);
        _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
        _buffer[_length++] = 0;
    }

    /// <summary>Room for at least <paramref name="size"/> bytes at the end; <see cref="Advance"/> says how many were used.</summary>
    public Span<byte> GetSpan(int size)
    {
        Ensure(size);
        return _buffer.AsSpan(_length);
    }

    public void Advance(int count) => _length += count;

    /// <summary>Overwrites an Int32 written earlier at <paramref name="position"/> (a length known only afterwards).</summary>
    public void PatchInt32(int position, int value) => BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(position), value);

    private void Ensure(int more)
    {
        if (_buffer.Length - _length >= more)
        {
            return;
        }

        long wanted = Math.Max((long)_buffer.Length * 2, (long)_length + more);
        if (wanted > Array.MaxLength)
        {
            throw new InvalidOperationException("a PostgreSQL message would pass 2 GB");
        }

        Array.Resize(ref _buffer, (int)wanted);
    }
}
