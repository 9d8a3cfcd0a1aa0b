namespace PixelPing.Common;

/// <summary>
/// Percent-encoding's <c>%XX</c> (RFC 3986 §2.1), the one escape the flush body, the spool file and the query's key
/// share: written with upper-case digits, as RFC 3986 recommends and encodeURIComponent does.
/// </summary>
internal static class PercentEncoding
{
    private static ReadOnlySpan<byte> UpperHex => "0123456789ABCDEF"u8;

    /// <summary>Writes <c>%XX</c> for <paramref name="value"/> into the first three bytes of <paramref name="destination"/>.</summary>
    public static void WriteEscape(byte value, Span<byte> destination)
    {
        destination[2] = UpperHex[value & 0xF];
        destination[1] = UpperHex[value >> 4];
        destination[0] = (byte)'%';
    }

    /// <summary>
    /// The byte a <c>%XX</c> at the start of <paramref name="source"/> stands for; false when there is none (too short,
    /// or not two hex digits). <paramref name="upperCaseOnly"/> refuses <c>a–f</c>, for text only we write.
    /// </summary>
    public static bool TryDecodeEscape(ReadOnlySpan<byte> source, bool upperCaseOnly, out byte value)
    {
        value = 0;
        if (source.Length < 3 || source[0] != (byte)'%')
        {
            return false;
        }

        int high = AsciiDigits.HexValue(source[1]);
        int low = AsciiDigits.HexValue(source[2]);
        if ((high | low) < 0 || (upperCaseOnly && (IsLowerLetter(source[1]) || IsLowerLetter(source[2]))))
        {
            return false;
        }

        value = (byte)((high << 4) | low);
        return true;
    }

    private static bool IsLowerLetter(byte b) => b is >= (byte)'a' and <= (byte)'f';
}
