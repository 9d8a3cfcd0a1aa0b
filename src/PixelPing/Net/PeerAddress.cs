using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace PixelPing.Net;

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

    public static PeerAddress From(EndPoint? endPoint)
    {
        if (endPoint is not IPEndPoint ip)
        {
            return default;
        }

        Span<byte> bytes = stackalloc byte[16];
        IPAddress address = ip.Address.AddressFamily == AddressFamily.InterNetwork ? ip.Address.MapToIPv6() : ip.Address;
        address.TryWriteBytes(bytes, out _);
        return new PeerAddress(BinaryPrimitives.ReadUInt128BigEndian(bytes));
    }

    /// <summary>An IPv4 client as an <see cref="AddressFamily.InterNetwork"/> address, whatever socket it came in on.</summary>
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
