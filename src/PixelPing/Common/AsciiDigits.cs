namespace PixelPing.Common;

/// <summary>Digits in protocol bytes: hex digits (escapes, IPv6 groups) and unsigned decimals (lengths, counts).</summary>
internal static class AsciiDigits
{
    /// <summary>The value of a hex digit of either case; -1 for any other byte.</summary>
    public static int HexValue(byte b)
    {
        uint digit = (uint)b - '0';
        if (digit <= 9)
        {
            return (int)digit;
        }

        uint letter = ((uint)b | 0x20) - 'a';
        return letter <= 5 ? (int)letter + 10 : -1;
    }

    /// <summary>
    /// <c>1*DIGIT</c> as a number: no sign, no spaces, leading zeros allowed; false when empty, when a byte is not a
    /// digit, or when the value would pass <see cref="long.MaxValue"/>.
    /// </summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        if (digits.IsEmpty)
        {
            return false;
        }

        foreach (byte b in digits)
        {
            int digit = b - '0';
            if ((uint)digit > 9 || value > (long.MaxValue - digit) / 10)
            {
                value = 0;
                return false;
            }

            value = (value * 10) + digit;
        }

        return true;
    }
}
