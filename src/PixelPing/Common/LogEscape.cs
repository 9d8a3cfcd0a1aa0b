using System.Buffers;
using System.Text;

namespace PixelPing.Common;

/// <summary>
/// Makes text that a visitor (a key) or a config file controls safe to print on a log line, reversibly. A raw line
/// break would let a key forge a whole count line (<c>?key=a%0A9999:%09forged</c>), an escape sequence drives the
/// terminal that shows the log, and a bidirectional override makes a line read differently from its bytes. So these
/// are written as JSON-style escapes, and the backslash itself as <c>\\</c>, which makes every escape undoable:
/// <list type="bullet">
/// <item><c>\n</c>, <c>\r</c>, <c>\t</c>;</item>
/// <item><c>\u00XX</c> for the other C0 controls (NUL included), DEL and the C1 controls U+0080–U+009F;</item>
/// <item><c>\u20XX</c> for the line and paragraph separators U+2028, U+2029 and the bidirectional embeddings,
/// overrides and isolates U+202A–U+202E and U+2066–U+2069.</item>
/// </list>
/// Everything else, including all other UTF-8, is written byte for byte, so an ordinary key prints exactly as before.
/// </summary>
internal static class LogEscape
{
    // The bytes where something to escape can start: C0, backslash, DEL, and the lead bytes of U+0080–U+009F (C2) and
    // of U+2028–U+2069 (E2).
    private static readonly SearchValues<byte> s_starts = SearchValues.Create([.. ByteSets.Range(0x00, 0x1F), (byte)'\\', 0x7F, 0xC2, 0xE2]);

    /// <summary>The most bytes <see cref="Write"/> can make of <paramref name="length"/> bytes: six per byte (<c>\u001b</c>).</summary>
    public static int MaxLength(int length) => length * 6;

    /// <summary>Writes <paramref name="utf8"/> escaped into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(ReadOnlySpan<byte> utf8, Span<byte> destination)
    {
        int written = 0;
        while (true)
        {
            int at = utf8.IndexOfAny(s_starts);
            if (at < 0)
            {
                utf8.CopyTo(destination[written..]);
                return written + utf8.Length;
            }

            utf8[..at].CopyTo(destination[written..]);
            written += at;
            int code = Escaped(utf8[at..], out int consumed);
            Span<byte> output = destination[written..];
            if (code < 0)
            {
                // The lead byte of an ordinary character: kept, and the scan goes on after it.
                output[0] = utf8[at];
            }

            utf8 = utf8[(at + consumed)..];
            switch (code)
            {
                case < 0:
                    written++;
                    break;
                case '\n' or '\r' or '\t' or '\\':
                    output[0] = (byte)'\\';
                    output[1] = code switch { '\n' => (byte)'n', '\r' => (byte)'r', '\t' => (byte)'t', _ => (byte)'\\' };
                    written += 2;
                    break;
                default:
                    ReadOnlySpan<byte> hex = "0123456789abcdef"u8;
                    output[0] = (byte)'\\';
                    output[1] = (byte)'u';
                    output[2] = hex[(code >> 12) & 0xF];
                    output[3] = hex[(code >> 8) & 0xF];
                    output[4] = hex[(code >> 4) & 0xF];
                    output[5] = hex[code & 0xF];
                    written += 6;
                    break;
            }
        }
    }

    /// <summary>A string (a config value, a path) escaped the same way, for a message line.</summary>
    public static string Text(string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        if (utf8.AsSpan().IndexOfAny(s_starts) < 0)
        {
            return value;
        }

        byte[] escaped = new byte[MaxLength(utf8.Length)];
        int written = Write(utf8, escaped);
        // Every escape is longer than what it replaces: the same length means nothing was escaped.
        return written == utf8.Length ? value : Encoding.UTF8.GetString(escaped, 0, written);
    }

    /// <summary>The code point to escape at the start of <paramref name="text"/>, or -1 for a byte to keep as it is.</summary>
    private static int Escaped(ReadOnlySpan<byte> text, out int consumed)
    {
        byte first = text[0];
        consumed = 1;
        if (first < 0x20 || first is 0x7F or (byte)'\\')
        {
            return first;
        }

        if (first == 0xC2 && text.Length > 1 && text[1] is >= 0x80 and <= 0x9F)
        {
            consumed = 2;
            return text[1];
        }

        if (first == 0xE2 && text.Length > 2
            && ((text[1] == 0x80 && text[2] is >= 0xA8 and <= 0xAE) || IsIsolate(text)))
        {
            consumed = 3;
            return CodePoint(text);
        }

        return -1;
    }

    /// <summary>
    /// The bytes <see cref="WriteJson"/> makes of a JSON text: JSON encoders escape the controls and the line and
    /// paragraph separators but write the bidirectional embeddings, overrides and isolates as they are.
    /// </summary>
    public static int JsonLength(ReadOnlySpan<byte> json)
    {
        int length = json.Length;
        for (int at = json.IndexOf((byte)0xE2); at >= 0; at = NextE2(json, at + 1))
        {
            if (IsBidi(json[at..]))
            {
                length += 3;
            }
        }

        return length;
    }

    /// <summary>
    /// Copies a JSON text with U+202A–U+202E and U+2066–U+2069 as <c>\u202A</c>… escapes (upper-case, like the
    /// encoder's own). A JSON text holds non-ASCII bytes only inside strings, where the escape means the same
    /// character, so the text stays valid and reads back the same.
    /// </summary>
    public static int WriteJson(ReadOnlySpan<byte> json, Span<byte> destination)
    {
        int written = 0;
        while (true)
        {
            int at = json.IndexOf((byte)0xE2);
            while (at >= 0 && !IsBidi(json[at..]))
            {
                at = NextE2(json, at + 1);
            }

            if (at < 0)
            {
                json.CopyTo(destination[written..]);
                return written + json.Length;
            }

            json[..at].CopyTo(destination[written..]);
            written += at;
            int code = CodePoint(json[at..]);
            ReadOnlySpan<byte> hex = "0123456789ABCDEF"u8;
            Span<byte> output = destination[written..];
            output[0] = (byte)'\\';
            output[1] = (byte)'u';
            output[2] = hex[(code >> 12) & 0xF];
            output[3] = hex[(code >> 8) & 0xF];
            output[4] = hex[(code >> 4) & 0xF];
            output[5] = hex[code & 0xF];
            written += 6;
            json = json[(at + 3)..];
        }
    }

    private static int NextE2(ReadOnlySpan<byte> text, int from)
    {
        int next = text[from..].IndexOf((byte)0xE2);
        return next < 0 ? -1 : from + next;
    }

    // U+202A–U+202E (E2 80 AA–AE) and U+2066–U+2069 (E2 81 A6–A9).
    private static bool IsBidi(ReadOnlySpan<byte> text) =>
        text.Length > 2 && text[0] == 0xE2 && ((text[1] == 0x80 && text[2] is >= 0xAA and <= 0xAE) || IsIsolate(text));

    private static bool IsIsolate(ReadOnlySpan<byte> text) => text[1] == 0x81 && text[2] is >= 0xA6 and <= 0xA9;

    private static int CodePoint(ReadOnlySpan<byte> threeBytes) => ((threeBytes[0] & 0x0F) << 12) | ((threeBytes[1] & 0x3F) << 6) | (threeBytes[2] & 0x3F);
}
