using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace PixelPing.Counting;

internal enum KeyStatus : byte
{
    None,
    Found,
    TooLong,
}

/// <summary>
/// Finds the first <c>key</c> parameter of a query string and decodes its value as the original pixel-ping did
/// through Node's <c>querystring.parse</c>: <c>+</c> is a space, a valid <c>%XX</c> is a byte, a malformed
/// <c>%</c> stays as written, and the bytes are read as UTF-8 with U+FFFD for each maximal invalid subpart.
/// </summary>
internal static class KeyDecoder
{
    // Node's querystring.parse gives up after maxKeys (1000) '&'-separated pieces, empty pieces included;
    // a key beyond that was never counted by the original.
    private const int MaxPairs = 1000;

    // A name longer than "%6B%65%79" cannot decode to "key".
    private const int MaxEncodedNameLength = 9;

    private static ReadOnlySpan<byte> KeyName => "key"u8;

    private static ReadOnlySpan<byte> ReplacementCharacter => "\uFFFD"u8;

    /// <param name="query">The raw bytes after '?', fragment already removed.</param>
    /// <param name="destination">Receives the key as UTF-8; its length is the longest key accepted.</param>
    /// <param name="written">Bytes written to <paramref name="destination"/> when the result is Found, else 0.</param>
    public static KeyStatus Decode(ReadOnlySpan<byte> query, Span<byte> destination, out int written)
    {
        written = 0;
        for (int pairs = 1; pairs <= MaxPairs; pairs++)
        {
            int separator = query.IndexOf((byte)'&');
            ReadOnlySpan<byte> pair = separator < 0 ? query : query[..separator];

            int equals = pair.IndexOf((byte)'=');
            ReadOnlySpan<byte> name = equals < 0 ? pair : pair[..equals];
            if (IsKeyName(name))
            {
                // Only the first key parameter counts, even when it is empty (`key=&key=b` counts nothing).
                ReadOnlySpan<byte> value = equals < 0 ? default : pair[(equals + 1)..];
                return value.IsEmpty ? KeyStatus.None : DecodeValue(value, destination, out written);
            }

            if (separator < 0)
            {
                break;
            }

            query = query[(separator + 1)..];
        }

        return KeyStatus.None;
    }

    private static bool IsKeyName(ReadOnlySpan<byte> name)
    {
        if (name.SequenceEqual(KeyName))
        {
            return true;
        }

        // The rare spelled-out form (`k%65y`): only a name with an escape can still decode to "key".
        if (name.Length <= KeyName.Length || name.Length > MaxEncodedNameLength || !name.Contains((byte)'%'))
        {
            return false;
        }

        Span<byte> decoded = stackalloc byte[MaxEncodedNameLength];
        int length = PercentDecode(name, decoded);
        return length >= 0 && decoded[..length].SequenceEqual(KeyName);
    }

    private static KeyStatus DecodeValue(ReadOnlySpan<byte> value, Span<byte> destination, out int written)
    {
        written = 0;

        // Replacing invalid UTF-8 never shrinks the text (a 1-3 byte subpart becomes 3 bytes), so a value whose
        // bytes alone overflow is too long whatever they turn out to be.
        int length = PercentDecode(value, destination);
        if (length < 0)
        {
            return KeyStatus.TooLong;
        }

        if (!Utf8.IsValid(destination[..length]))
        {
            length = ReplaceInvalidUtf8(destination, length);
            if (length < 0)
            {
                return KeyStatus.TooLong;
            }
        }

        written = length;
        return KeyStatus.Found;
    }

    // Node's unescapeBuffer: '+' is a space, '%' and two hex digits (either case) is that byte, any other '%'
    // is kept as written. Returns the bytes written, or -1 when they do not fit.
    private static int PercentDecode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        int written = 0;
        while (true)
        {
            int special = source.IndexOfAny((byte)'%', (byte)'+');
            int run = special < 0 ? source.Length : special;
            if (run > destination.Length - written)
            {
                return -1;
            }

            source[..run].CopyTo(destination[written..]);
            written += run;
            if (special < 0)
            {
                return written;
            }

            if (written == destination.Length)
            {
                return -1;
            }

            byte b = source[special];
            int consumed = 1;
            if (b == (byte)'+')
            {
                b = (byte)' ';
            }
            else if (PercentEncoding.TryDecodeEscape(source[special..], upperCaseOnly: false, out byte escaped))
            {
                b = escaped;
                consumed = 3;
            }

            destination[written++] = b;
            source = source[(special + consumed)..];
        }
    }

    // Rewrites the first `length` bytes of `buffer` with U+FFFD for every maximal invalid subpart (what Node's
    // Buffer.toString('utf8') and .NET's Rune decoder both do). Cold path: keys are nearly always valid UTF-8.
    // Returns the new length, or -1 when it does not fit.
    private static int ReplaceInvalidUtf8(Span<byte> buffer, int length)
    {
        byte[] copy = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            ReadOnlySpan<byte> source = copy.AsSpan(0, length);
            buffer[..length].CopyTo(copy);

            int written = 0;
            while (!source.IsEmpty)
            {
                OperationStatus status = Rune.DecodeFromUtf8(source, out _, out int consumed);
                ReadOnlySpan<byte> output = status == OperationStatus.Done ? source[..consumed] : ReplacementCharacter;
                if (output.Length > buffer.Length - written)
                {
                    return -1;
                }

                output.CopyTo(buffer[written..]);
                written += output.Length;
                source = source[consumed..];
            }

            return written;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }
}
