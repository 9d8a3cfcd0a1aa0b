using System.Buffers.Text;
using System.Text;

namespace PixelPing.Flushing.Redis;

/// <summary>
/// Writes commands as RESP2 arrays of bulk strings (<c>*&lt;n&gt;\r\n</c>, then <c>$&lt;length&gt;\r\n&lt;bytes&gt;\r\n</c>
/// per argument). Every argument is length-prefixed, so any byte value (a key's CR, LF or NUL included) is data, never
/// syntax. Several commands may be written one after the other and sent together.
/// </summary>
internal sealed class RespWriter
{
    private byte[] _buffer = new byte[4096];
    private int _used;
    private int _missing;

    /// <summary>The commands written so far.</summary>
    public ReadOnlyMemory<byte> Written
    {
        get
        {
            // A command with fewer arguments than announced would make the server read the next one as its own.
            if (_missing != 0)
            {
                throw new InvalidOperationException("a command is missing arguments");
            }

            return _buffer.AsMemory(0, _used);
        }
    }

    /// <summary>Starts a command of <paramref name="arguments"/> words, its name included.</summary>
    public RespWriter Command(int arguments)
    {
        if (_missing != 0)
        {
            throw new InvalidOperationException("the command before is missing arguments");
        }

        _missing = arguments;
        Header((byte)'*', arguments);
        return this;
    }

    public RespWriter Argument(ReadOnlySpan<byte> value)
    {
        if (--_missing < 0)
        {
            throw new InvalidOperationException("more arguments than the command announced");
        }

        Header((byte)'$', value.Length);
        Reserve(value.Length + 2);
        value.CopyTo(_buffer.AsSpan(_used));
        _used += value.Length;
        _buffer[_used++] = (byte)'\r';
        _buffer[_used++] = (byte)'\n';
        return this;
    }

    /// <summary>A text argument, as UTF-8.</summary>
    public RespWriter Argument(string value) => Argument(Encoding.UTF8.GetBytes(value));

    /// <summary>A number argument, in decimal.</summary>
    public RespWriter Argument(long value)
    {
        Span<byte> digits = stackalloc byte[20];
        Utf8Formatter.TryFormat(value, digits, out int length);
        return Argument(digits[..length]);
    }

    /// <summary>Forgets what was written, keeping the buffer for the next commands.</summary>
    public void Clear()
    {
        _used = 0;
        _missing = 0;
    }

    private void Header(byte type, int count)
    {
        Reserve(1 + 11 + 2);
        _buffer[_used++] = type;
        Utf8Formatter.TryFormat(count, _buffer.AsSpan(_used), out int length);
        _used += length;
        _buffer[_used++] = (byte)'\r';
        _buffer[_used++] = (byte)'\n';
    }

    private void Reserve(int bytes)
    {
        if (_buffer.Length - _used < bytes)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _used + bytes));
        }
    }
}
