using System.Globalization;
using System.Text;
using PixelPing.Common;

namespace PixelPing.Tests;

public sealed class LogEscapeTests
{
    private static string Escape(string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        byte[] output = new byte[LogEscape.MaxLength(utf8.Length)];
        return Encoding.UTF8.GetString(output, 0, LogEscape.Write(utf8, output));
    }

    /// <summary>What a script reading the log would do to get the key back: the JSON-style escapes, undone.</summary>
    private static string Unescape(string text)
    {
        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                result.Append(text[i]);
                continue;
            }

            char kind = text[++i];
            switch (kind)
            {
                case 'n': result.Append('\n'); break;
                case 'r': result.Append('\r'); break;
                case 't': result.Append('\t'); break;
                case '\\': result.Append('\\'); break;
                case 'u':
                    result.Append((char)int.Parse(text.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                default: throw new FormatException("unknown escape \\" + kind);
            }
        }

        return result.ToString();
    }

    [Theory]
    [InlineData("a\n9999:\tforged", @"a\n9999:\tforged")]
    [InlineData("\u001b[31mred\u001b]0;title\u0007", @"\u001b[31mred\u001b]0;title\u0007")]
    [InlineData("nul\0del\u007f", @"nul\u0000del\u007f")]
    [InlineData("c1\u0085\u009b", @"c1\u0085\u009b")]
    [InlineData("\u202eevil\u202c \u2066x\u2069 \u2028\u2029", @"\u202eevil\u202c \u2066x\u2069 \u2028\u2029")]
    [InlineData(@"back\slash \u001b", @"back\\slash \\u001b")]
    [InlineData("cr\rlf", @"cr\rlf")]
    public void Controls_bidi_overrides_and_the_backslash_are_escaped(string key, string logged)
    {
        Assert.Equal(logged, Escape(key));
        Assert.Equal(key, Unescape(logged));
    }

    [Theory]
    [InlineData("document:42")]
    [InlineData("café au lait ÿ € \u2027 \u202f \u2065 \u206a 日本 😀")]
    [InlineData("\u00a0\u00c2\u00e2")]
    [InlineData("")]
    public void Ordinary_keys_are_written_byte_for_byte(string key)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(key);
        byte[] output = new byte[LogEscape.MaxLength(utf8.Length) + 1];
        int written = LogEscape.Write(utf8, output);
        Assert.Equal(utf8, output[..written]);
        Assert.Same(key, LogEscape.Text(key));
    }

    [Fact]
    public void Every_character_round_trips_and_none_to_escape_is_left()
    {
        var all = new StringBuilder();
        for (int c = 0; c <= 0xFFFF; c++)
        {
            if (!char.IsSurrogate((char)c))
            {
                all.Append((char)c);
            }
        }

        all.Append("😀");
        string escaped = Escape(all.ToString());
        Assert.Equal(all.ToString(), Unescape(escaped));
        Assert.Equal(escaped, LogEscape.Text(all.ToString()));
        foreach (char c in escaped)
        {
            Assert.False(c < 0x20 || c is >= '\u007f' and <= '\u009f' || c is >= '\u2028' and <= '\u202e' || c is >= '\u2066' and <= '\u2069',
                $"U+{(int)c:X4} left unescaped");
        }
    }

    [Fact]
    public void In_a_JSON_line_the_bidi_controls_are_escaped_and_the_line_reads_back_the_same()
    {
        // Every character in a string value, as the log's JSON writer (the relaxed encoder) writes it.
        var all = new StringBuilder();
        for (int c = 0; c <= 0xFFFF; c++)
        {
            if (!char.IsSurrogate((char)c))
            {
                all.Append((char)c);
            }
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions
        {
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            json.WriteStartObject();
            json.WriteString("key", all.ToString());
            json.WriteEndObject();
        }

        byte[] line = new byte[LogEscape.JsonLength(buffer.WrittenSpan)];
        Assert.Equal(line.Length, LogEscape.WriteJson(buffer.WrittenSpan, line));
        string text = Encoding.UTF8.GetString(line);
        using System.Text.Json.JsonDocument read = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal(all.ToString(), read.RootElement.GetProperty("key").GetString());
        Assert.Contains(@"\u202A", text, StringComparison.Ordinal);
        Assert.Contains(@"\u2069", text, StringComparison.Ordinal);
        foreach (char c in text)
        {
            Assert.False(c < 0x20 || c is >= '\u007f' and <= '\u009f' || c is >= '\u2028' and <= '\u202e' || c is >= '\u2066' and <= '\u2069',
                $"U+{(int)c:X4} left unescaped");
        }

        // A line without them is copied as it is.
        byte[] plain = Encoding.UTF8.GetBytes("{\"msg\":\"caf\u00e9 \u2713 \u2065 \u206a \u2027\"}");
        Assert.Equal(plain.Length, LogEscape.JsonLength(plain));
        byte[] copy = new byte[plain.Length];
        LogEscape.WriteJson(plain, copy);
        Assert.Equal(plain, copy);
    }
}
