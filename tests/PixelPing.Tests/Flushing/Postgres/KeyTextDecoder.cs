using System.Text;

namespace PixelPing.Tests.Flushing.Postgres;

/// <summary>
/// The decoding KeyText's documentation gives, written from the documentation alone: <c>\\</c> is a backslash,
/// <c>\xHH</c> the byte HH, any other character its UTF-8. The tests check that it undoes the encoder on every key
/// they try, which is what makes the stored text reversible.
/// </summary>
internal static class KeyTextDecoder
{
    public static byte[] Decode(byte[] text)
    {
        var key = new List<byte>(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != (byte)'\\')
            {
                key.Add(text[i]);
                continue;
            }

            Assert.True(i + 1 < text.Length, "a backslash at the end of the text");
            if (text[i + 1] == (byte)'\\')
            {
                key.Add((byte)'\\');
                i++;
                continue;
            }

            Assert.True(text[i + 1] == (byte)'x' && i + 3 < text.Length, "a backslash that starts neither \\\\ nor \\xHH");
            key.Add(Convert.FromHexString(Encoding.ASCII.GetString(text, i + 2, 2))[0]);
            i += 3;
        }

        return [.. key];
    }
}
