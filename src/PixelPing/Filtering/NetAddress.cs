using System.Buffers.Binary;

namespace PixelPing.Filtering;

/// <summary>
/// IP addresses as one 128-bit number, IPv4 in its IPv4-mapped IPv6 form (<c>::ffff:a.b.c.d</c>, RFC 4291 §2.5.5.2), as
/// <see cref="Net.PeerAddress"/> holds a socket peer. So a client reaching a dual-mode socket as <c>::ffff:192.0.2.1</c>,
/// one behind a proxy written as <c>192.0.2.1</c> and the range <c>192.0.2.0/24</c> all compare as the same kind of
/// number, with no allocation.
/// </summary>
internal static class NetAddress
{
    private static readonly UInt128 s_mappedPrefix = (UInt128)0xFFFF << 32;

    public static bool IsIPv4(UInt128 address) => address >> 32 == 0xFFFF;

    public static UInt128 FromIPv4(uint address) => s_mappedPrefix | address;

    /// <summary>The 16 bytes hashed for the per-client table: the same for an address however it was written.</summary>
    public static void Write(UInt128 address, Span<byte> destination) => BinaryPrimitives.WriteUInt128BigEndian(destination, address);

    /// <summary>
    /// Strict text forms only: dotted-quad IPv4 with decimal parts (no "127.1", no octal or hex parts, which
    /// inet_aton would accept and which turn typos into other addresses) and RFC 4291 §2.2 IPv6, including "::" and
    /// a trailing dotted quad. No zone index, no brackets, no port: the callers strip those.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out UInt128 address)
    {
        address = UInt128.Zero;
        if (text.IndexOf((byte)':') < 0)
        {
            if (!TryParseIPv4(text, out uint v4))
            {
                return false;
            }

            address = FromIPv4(v4);
            return true;
        }

        return TryParseIPv6(text, out address);
    }

    private static bool TryParseIPv4(ReadOnlySpan<byte> text, out uint address)
    {
        address = 0;
        int part = 0;
        int i = 0;
        while (true)
        {
            int value = 0;
            int digits = 0;
            while (i < text.Length && (uint)(text[i] - '0') <= 9)
            {
                value = (value * 10) + (text[i] - '0');
                digits++;
                i++;
                if (digits > 3)
                {
                    return false;
                }
            }

            // A leading zero ("010") is refused: some parsers read it as octal.
            if (digits == 0 || value > 255 || (digits > 1 && text[i - digits] == '0'))
            {
                return false;
            }

            address = (address << 8) | (uint)value;
            part++;
            if (part == 4)
            {
                return i == text.Length;
            }

            if (i >= text.Length || text[i] != '.')
            {
                return false;
            }

            i++;
        }
    }

    private static bool TryParseIPv6(ReadOnlySpan<byte> text, out UInt128 address)
    {
        address = UInt128.Zero;
        Span<ushort> groups = stackalloc ushort[8];
        int count = 0;
        int gap = -1;
        int i = 0;
        if (text.StartsWith("::"u8))
        {
            gap = 0;
            i = 2;
            if (i == text.Length)
            {
                return true;
            }
        }
        else if (text.IsEmpty || text[0] == ':')
        {
            return false;
        }

        while (true)
        {
            int start = i;
            int value = 0;
            while (i < text.Length && i - start < 5 && AsciiDigits.HexValue(text[i]) is int digit and >= 0)
            {
                value = (value << 4) | digit;
                i++;
            }

            int length = i - start;
            if (i < text.Length && text[i] == '.')
            {
                // A trailing dotted quad fills the last two groups (RFC 4291 §2.2 item 3).
                if (count > 6 || !TryParseIPv4(text[start..], out uint v4))
                {
                    return false;
                }

                groups[count++] = (ushort)(v4 >> 16);
                groups[count++] = (ushort)v4;
                break;
            }

            if (length is 0 or > 4 || count == 8)
            {
                return false;
            }

            groups[count++] = (ushort)value;
            if (i == text.Length)
            {
                break;
            }

            if (text[i] != ':')
            {
                return false;
            }

            i++;
            if (i < text.Length && text[i] == ':')
            {
                if (gap >= 0)
                {
                    return false;
                }

                gap = count;
                i++;
                if (i == text.Length)
                {
                    break;
                }
            }
            else if (i == text.Length)
            {
                return false;
            }
        }

        if (gap < 0 ? count != 8 : count > 7)
        {
            return false;
        }

        UInt128 value128 = UInt128.Zero;
        int zeros = 8 - count;
        for (int g = 0, src = 0; g < 8; g++)
        {
            ushort group = gap >= 0 && g >= gap && g < gap + zeros ? (ushort)0 : groups[src++];
            value128 = (value128 << 16) | group;
        }

        address = value128;
        return true;
    }
}
