using System.Buffers.Binary;
using System.Net;
using PixelPing.Interop;

namespace PixelPing.Http;

/// <summary>
/// A client's IP address held by value (16 bytes, IPv4 as its IPv4-mapped IPv6 form), so a connection carries it
/// without an allocation; <see cref="ToIPAddress"/> makes the object only where one is needed.
/// </summary>
internal readonly struct PeerAddress : IEquatable<PeerAddress>
{
    private readonly UInt128 _bits;

    private PeerAddress(UInt128 bits) => _bits = bits;

    /// <summary>The address as one number, the form the hit filters compare (see <c>Filtering/NetAddress</c>).</summary>
    public UInt128 Value => _bits;

    /// <summary>The address in a <c>sockaddr_in</c> or <c>sockaddr_in6</c> as <c>accept4</c> fills it.</summary>
    public static PeerAddress FromSocketAddress(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length >= 8 && BinaryPrimitives.ReadUInt16LittleEndian(sockaddr) == Libc.AF_INET)
        {
            // ::ffff:a.b.c.d
            return new PeerAddress(((UInt128)0xFFFF << 32) | BinaryPrimitives.ReadUInt32BigEndian(sockaddr[4..]));
        }

        if (sockaddr.Length >= 24 && BinaryPrimitives.ReadUInt16LittleEndian(sockaddr) == Libc.AF_INET6)
        {
            return new PeerAddress(BinaryPrimitives.ReadUInt128BigEndian(sockaddr[8..]));
        }

        return default;
    }

    /// <summary>An IPv4 client as an IPv4 address, whatever socket it came in on.</summary>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, _bits);
        var address = new IPAddress(bytes);
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    public bool Equals(PeerAddress other) => _bits == other._bits;

    public override bool Equals(object? obj) => obj is PeerAddress other && Equals(other);

    public override int GetHashCode() => _bits.GetHashCode();

    public override string ToString() => ToIPAddress().ToString();
}
