using System.Buffers.Binary;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// Reads backend messages (a type byte, an Int32 length counting itself, the body) from the connection's stream
/// through one buffer. A closed connection or a malformed length is an <see cref="IOException"/> or
/// <see cref="InvalidDataException"/>, which the connection turns into a lost connection.
/// </summary>
internal sealed class PgReader(Stream stream)
{
    // The longest message we accept: our rows are a few numbers, and an error's detail may quote a key of 64 KiB.
    private const int MaxMessage = 16 << 20;
    private const int KeptCapacity = 64 << 10;

    private byte[] _buffer = new byte[16 << 10];
    private int _start;
    private int _end;

    /// <summary>The next message; its body stays valid until the next call.</summary>
    public async ValueTask<PgMessage> ReadAsync(CancellationToken cancellation)
    {
        await FillAsync(5, cancellation).ConfigureAwait(false);
        byte type = _buffer[_start];
        int length = BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(_start + 1));
        if (length < 4 || length > MaxMessage)
        {
            throw new InvalidDataException($"the server sent a message of type {(char)type} with an impossible length ({length})");
        }

        await FillAsync(1 + length, cancellation).ConfigureAwait(false);
        var message = new PgMessage(type, _buffer.AsMemory(_start + 5, length - 4));
        _start += 1 + length;
        return message;
    }

    private async ValueTask FillAsync(int needed, CancellationToken cancellation)
    {
        if (_end - _start >= needed)
        {
            return;
        }

        if (_buffer.Length - _start < needed)
        {
            // Move what is left to the front, into a bigger buffer when one message needs it, or back into a small one
            // once a big message is behind us and what is left fits.
            int size = needed > _buffer.Length ? Math.Max(needed, _buffer.Length * 2)
                : _buffer.Length > KeptCapacity && Math.Max(needed, _end - _start) <= KeptCapacity ? KeptCapacity
                : _buffer.Length;
            byte[] target = size == _buffer.Length ? _buffer : new byte[size];
            _buffer.AsSpan(_start, _end - _start).CopyTo(target);
            _buffer = target;
            _end -= _start;
            _start = 0;
        }

        while (_end - _start < needed)
        {
            int read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellation).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException(_end == _start ? "the server closed the connection" : "the server closed the connection in the middle of a message");
            }

            _end += read;
        }
    }
}
