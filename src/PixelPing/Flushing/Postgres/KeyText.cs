using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// The <c>key</c> column's text for a key's bytes. A PostgreSQL <c>text</c> value cannot hold U+0000 and must be valid
/// UTF-8, while a key is any byte string; so the key is written with one escape character, the backslash:
/// <list type="bullet">
/// <item>a backslash is written <c>\\</c> (two backslashes);</item>
/// <item>a NUL byte is written <c>\x00</c>;</item>
/// <item>every byte that is not part of a well-formed UTF-8 character (RFC 3629) is written <c>\xHH</c>, two
/// upper-case hex digits;</item>
/// <item>everything else, all other UTF-8 characters, is written as it is.</item>
/// </list>
/// So a key of valid UTF-8 without NUL or backslash is stored exactly as it is. The text decodes back to the key's bytes
/// by reading it from the start: <c>\\</c> is a backslash, <c>\xHH</c> is the byte HH, any other character is its
/// UTF-8. Because the backslash itself is escaped, a backslash in the text always starts an escape, the decoding is a
/// function, and two different keys never share a text. The row's identity is still <c>key_hash</c>, the SHA-256 of
/// the key's bytes, not this text.
/// </summary>
internal static class KeyText
{
    private static ReadOnlySpan<byte> UpperHex => "0123456789ABCDEF"u8;

    private static readonly SearchValues<byte> s_special = SearchValues.Create([0, (byte)'\\']);

    /// <summary>The most bytes <see cref="Write"/> makes of a key of <paramref name="length"/> bytes: four per byte (<c>\xHH</c>).</summary>
    public static int MaxLength(int length) => length * 4;

    /// <summary>The text for <paramref name="key"/> as UTF-8 into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(ReadOnlySpan<byte> key, Span<byte> destination)
    {
        if (key.IndexOfAny(s_special) < 0 && Utf8.IsValid(key))
        {
            key.CopyTo(destination);
            return key.Length;
        }

        int written = 0;
        while (!key.IsEmpty)
        {
            OperationStatus status = Rune.DecodeFromUtf8(key, out Rune rune, out int consumed);
            if (status == OperationStatus.Done && rune.Value != 0 && rune.Value != '\\')
            {
                key[..consumed].CopyTo(destination[written..]);
                written += consumed;
            }
            else if (status == OperationStatus.Done && rune.Value == '\\')
            {
                destination[written++] = (byte)'\\';
                destination[written++] = (byte)'\\';
            }
            else
            {
                // NUL, or an ill-formed sequence (its maximal invalid subpart, RFC 3629 / Unicode §3.9): byte by byte.
                for (int i = 0; i < consumed; i++)
                {
                    destination[written] = (byte)'\\';
                    destination[written + 1] = (byte)'x';
                    destination[written + 2] = UpperHex[key[i] >> 4];
                    destination[written + 3] = UpperHex[key[i] & 0xF];
                    written += 4;
                }
            }

            key = key[consumed..];
        }

        return written;
    }
}
