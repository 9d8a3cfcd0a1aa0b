using System.Globalization;
using System.Text;

namespace PixelPing.Filtering;

/// <summary>
/// One CIDR block from the config (<c>192.0.2.0/24</c>, <c>2001:db8::/32</c>, or a single address). IPv4 blocks are held
/// as their IPv4-mapped IPv6 range, so they match clients seen through a dual-mode socket too.
/// </summary>
internal readonly record struct AddressRange(UInt128 Network, UInt128 Mask)
{
    public bool Contains(UInt128 address) => (address & Mask) == Network;

    public static bool AnyContains(AddressRange[] ranges, UInt128 address)
    {
        foreach (AddressRange range in ranges)
        {
            if (range.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Parses one entry; on failure <paramref name="error"/> says what it must be instead, in words that follow the
    /// config reader's "item 2 must be ...".
    /// </summary>
    public static bool TryParse(string text, out AddressRange range, out string error)
    {
        range = default;
        error = "";
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string addressText = slash < 0 ? text : text[..slash];
        if (!NetAddress.TryParse(Encoding.UTF8.GetBytes(addressText), out UInt128 address))
        {
            error = "an IPv4 or IPv6 address or CIDR block such as \"192.0.2.0/24\" or \"2001:db8::/32\"";
            return false;
        }

        bool v4 = NetAddress.IsIPv4(address) && addressText.IndexOf(':', StringComparison.Ordinal) < 0;
        int max = v4 ? 32 : 128;
        int prefix = max;
        if (slash >= 0)
        {
            string prefixText = text[(slash + 1)..];
            if (prefixText.Length is 0 or > 3 || !prefixText.All(char.IsAsciiDigit) || (prefixText.Length > 1 && prefixText[0] == '0')
                || !int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > max)
            {
                error = $"a CIDR block whose prefix length after '/' is a number from 0 to {max}";
                return false;
            }
        }

        int bits = v4 ? prefix + 96 : prefix;
        UInt128 mask = bits == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - bits);
        if ((address & mask) != address)
        {
            // Host bits set: "192.168.1.0/16" is most likely a typo for /24 or for 192.168.0.0/16. Say so instead of guessing.
            error = $"a CIDR block with no address bits set past its prefix (did you mean {Format(address & mask, v4)}/{prefix}?)";
            return false;
        }

        range = new AddressRange(address, mask);
        return true;
    }

    private static string Format(UInt128 address, bool v4) =>
        new System.Net.IPAddress(Bytes(address, v4)).ToString();

    private static byte[] Bytes(UInt128 address, bool v4)
    {
        byte[] bytes = new byte[16];
        NetAddress.Write(address, bytes);
        return v4 ? bytes[12..] : bytes;
    }
}
