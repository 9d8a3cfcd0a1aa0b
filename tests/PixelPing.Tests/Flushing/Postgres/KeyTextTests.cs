using System.Text;
using System.Text.Unicode;
using PixelPing.Flushing.Postgres;
using PixelPing.Tests.Vectors;

namespace PixelPing.Tests.Flushing.Postgres;

public sealed class KeyTextTests
{
    private static byte[] Encode(byte[] key)
    {
        byte[] text = new byte[KeyText.MaxLength(key.Length)];
        return text[..KeyText.Write(key, text)];
    }

    [Theory]
    [InlineData("abc", "abc")]
    [InlineData("", "")]
    [InlineData("a b/c?d=e&f", "a b/c?d=e&f")]
    [InlineData("\u2713 \U0001F600", "\u2713 \U0001F600")]
    [InlineData("a\\b", "a\\\\b")]
    [InlineData("\\x00", "\\\\x00")]
    [InlineData("a\0b", "a\\x00b")]
    [InlineData("\0", "\\x00")]
    public void Text_keys_are_stored_as_they_are_except_for_backslash_and_NUL(string key, string stored)
    {
        Assert.Equal(stored, Encoding.UTF8.GetString(Encode(Encoding.UTF8.GetBytes(key))));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF }, "\\xFF")]
    [InlineData(new byte[] { 0xC3 }, "\\xC3")]
    [InlineData(new byte[] { 0x61, 0xC3, 0x28 }, "a\\xC3(")]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "\\xED\\xA0\\x80")]
    [InlineData(new byte[] { 0xC0, 0xAF }, "\\xC0\\xAF")]
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 }, "\\xF4\\x90\\x80\\x80")]
    [InlineData(new byte[] { 0xE2, 0x82, 0x5C }, "\\xE2\\x82\\\\")]
    public void Bytes_that_are_not_UTF8_are_written_as_hex_escapes(byte[] key, string stored)
    {
        Assert.Equal(stored, Encoding.UTF8.GetString(Encode(key)));
    }

    [Fact]
    public void Every_key_of_the_vectors_round_trips_and_no_two_share_a_text()
    {
        var keys = new List<byte[]>();
        foreach (KeyVector vector in KeyVectors.All)
        {
            // The key as the decoder makes it, the query as it came, and the query's %-escapes undone byte for byte
            // (before any U+FFFD replacement, so with NUL and invalid UTF-8 as they were sent).
            keys.Add(Encoding.UTF8.GetBytes(vector.Key));
            keys.Add(Encoding.Latin1.GetBytes(vector.Query));
            keys.Add(RawPercentDecoded(vector.Query));
        }

        AssertReversibleAndInjective(keys);
    }

    [Fact]
    public void Every_key_of_one_and_two_bytes_round_trips_and_no_two_share_a_text()
    {
        var keys = new List<byte[]> { Array.Empty<byte>() };
        for (int a = 0; a < 256; a++)
        {
            keys.Add([(byte)a]);
            for (int b = 0; b < 256; b++)
            {
                keys.Add([(byte)a, (byte)b]);
            }
        }

        AssertReversibleAndInjective(keys);
    }

    [Fact]
    public void Longer_keys_mixing_escapes_and_text_round_trip()
    {
        var random = new Random(20);
        var keys = new List<byte[]>();
        ReadOnlySpan<byte> alphabet = [0x00, 0x5C, 0x78, 0x30, 0x41, 0xC3, 0xA9, 0xE2, 0x9C, 0x93, 0xFF, 0x80, 0xF0, 0x9F];
        for (int i = 0; i < 20_000; i++)
        {
            byte[] key = new byte[random.Next(1, 12)];
            for (int j = 0; j < key.Length; j++)
            {
                key[j] = alphabet[random.Next(alphabet.Length)];
            }

            keys.Add(key);
        }

        AssertReversibleAndInjective(keys);
    }

    private static byte[] RawPercentDecoded(string query)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < query.Length; i++)
        {
            if (query[i] == '%' && i + 2 < query.Length && char.IsAsciiHexDigit(query[i + 1]) && char.IsAsciiHexDigit(query[i + 2]))
            {
                bytes.Add(Convert.FromHexString(query.AsSpan(i + 1, 2))[0]);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(query[i].ToString()));
            }
        }

        return [.. bytes];
    }

    private static void AssertReversibleAndInjective(List<byte[]> keys)
    {
        var texts = new Dictionary<string, byte[]>();
        foreach (byte[] key in keys)
        {
            byte[] text = Encode(key);
            Assert.True(Utf8.IsValid(text), "the text is not UTF-8 for " + Convert.ToHexString(key));
            Assert.DoesNotContain((byte)0, text);
            Assert.Equal(key, KeyTextDecoder.Decode(text));
            string stored = Encoding.UTF8.GetString(text);
            if (texts.TryGetValue(stored, out byte[]? other))
            {
                Assert.Equal(other, key);
            }

            texts[stored] = key;
        }
    }
}
