using System.Globalization;
using PixelPing.Common;

namespace PixelPing.Flushing.Redis;

/// <summary>
/// Reads RESP2 replies (the Redis serialization protocol: <c>+</c> simple string, <c>-</c> error, <c>:</c> integer,
/// <c>$</c> bulk string, <c>*</c> array, each line ending in CRLF) from bytes as they arrive. The state between calls is
/// the stack of arrays still being filled: a call consumes every element it can read whole, and the caller keeps the
/// bytes it did not consume (at most one element's) and calls again with more.
/// </summary>
internal sealed class RespReader
{
    /// <summary>The longest line: a server's simple strings, errors and lengths are short.</summary>
    public const int MaxLine = 64 * 1024;

    /// <summary>The longest bulk string read: far more than any reply to the commands sent (a key is at most 64 KiB).</summary>
    public const int MaxBulk = 64 << 20;

    private const int MaxItems = 1 << 24;

    // Replies to the commands sent nest two deep at most (an array of arrays); a deeper one is not an answer to them.
    private const int MaxDepth = 8;

    private readonly Stack<OpenArray> _open = new();

    /// <summary>Why the bytes were <see cref="RespParseStatus.Invalid"/>.</summary>
    public string Problem { get; private set; } = "";

    /// <summary>
    /// Reads from <paramref name="data"/>: <see cref="RespParseStatus.Complete"/> with a reply, or
    /// <see cref="RespParseStatus.Incomplete"/>, with <paramref name="consumed"/> bytes used either way; bytes after a
    /// complete reply are the next one's.
    /// </summary>
    public RespParseStatus Read(ReadOnlySpan<byte> data, out int consumed, out RespReply reply)
    {
        consumed = 0;
        reply = default;
        while (true)
        {
            ReadOnlySpan<byte> rest = data[consumed..];
            int newline = rest.IndexOf((byte)'\n');
            if (newline < 0)
            {
                return rest.Length > MaxLine ? Fail("a line longer than 64 KiB") : RespParseStatus.Incomplete;
            }

            if (newline > MaxLine)
            {
                return Fail("a line longer than 64 KiB");
            }

            if (newline < 2 || rest[newline - 1] != (byte)'\r')
            {
                return Fail("a line that is empty or does not end in CRLF");
            }

            ReadOnlySpan<byte> line = rest[1..(newline - 1)];
            int used = newline + 1;
            RespReply element;
            switch (rest[0])
            {
                case (byte)'+':
                    element = RespReply.Simple(line.ToArray());
                    break;
                case (byte)'-':
                    element = RespReply.Error(line.ToArray());
                    break;
                case (byte)':':
                    if (!TryParseSigned(line, out long number))
                    {
                        return Fail("an integer reply that is not a number");
                    }

                    element = RespReply.Number(number);
                    break;
                case (byte)'$':
                    if (!TryParseSigned(line, out long length) || length is < -1 or > MaxBulk)
                    {
                        return Fail("a bulk string length that is not a number from -1 to 64 MiB");
                    }

                    if (length == -1)
                    {
                        element = RespReply.Null;
                        break;
                    }

                    if (rest.Length - used < length + 2)
                    {
                        return RespParseStatus.Incomplete;
                    }

                    if (!rest.Slice(used + (int)length, 2).SequenceEqual("\r\n"u8))
                    {
                        return Fail("a bulk string not followed by CRLF");
                    }

                    element = RespReply.Bulk(rest.Slice(used, (int)length).ToArray());
                    used += (int)length + 2;
                    break;
                case (byte)'*':
                    if (!TryParseSigned(line, out long count) || count is < -1 or > MaxItems)
                    {
                        return Fail("an array length that is not a number from -1 to 2^24");
                    }

                    if (count > 0)
                    {
                        if (_open.Count == MaxDepth)
                        {
                            return Fail("arrays nested more than 8 deep");
                        }

                        _open.Push(new OpenArray((int)count));
                        consumed += used;
                        continue;
                    }

                    element = count == 0 ? RespReply.Array([]) : RespReply.Null;
                    break;
                default:
                    return Fail("a reply that starts with the byte 0x" + rest[0].ToString("x2", CultureInfo.InvariantCulture) + ", not a RESP2 type");
            }

            consumed += used;
            while (_open.TryPeek(out OpenArray? array))
            {
                array.Items.Add(element);
                if (array.Items.Count < array.Length)
                {
                    break;
                }

                _open.Pop();
                element = RespReply.Array([.. array.Items]);
            }

            if (_open.Count == 0)
            {
                reply = element;
                return RespParseStatus.Complete;
            }
        }
    }

    private RespParseStatus Fail(string problem)
    {
        Problem = "the server's reply is not RESP2: " + problem;
        _open.Clear();
        return RespParseStatus.Invalid;
    }

    private static bool TryParseSigned(ReadOnlySpan<byte> text, out long value)
    {
        bool negative = text.Length > 1 && text[0] == (byte)'-';
        bool parsed = AsciiDigits.TryParseDecimal(negative ? text[1..] : text, out value);
        value = negative ? -value : value;
        return parsed;
    }

    /// <summary>An array whose elements are still arriving.</summary>
    private sealed class OpenArray(int length)
    {
        public int Length { get; } = length;

        // Grown as elements arrive: the announced length is the peer's word, not a size to allocate up front.
        public List<RespReply> Items { get; } = new(Math.Min(length, 1024));
    }
}
