using System.Net;
using System.Text;
using PixelPing.Filtering;
using PixelPing.Http;
using PixelPing.Net;

namespace PixelPing.Tests.Filtering;

public sealed class AddressRangeTests
{
    private static UInt128 Address(string text) =>
        NetAddress.TryParse(Encoding.ASCII.GetBytes(text), out UInt128 address) ? address : throw new FormatException(text);

    private static AddressRange Range(string text) =>
        AddressRange.TryParse(text, out AddressRange range, out string error) ? range : throw new FormatException(error);

    [Theory]
    [InlineData("192.0.2.1")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("2001:db8::")]
    [InlineData("2001:db8::1")]
    [InlineData("2001:DB8:0:0:8:800:200C:417A")]
    [InlineData("fe80::1:2:3:4:5")]
    [InlineData("1:2:3:4:5:6:7:8")]
    [InlineData("1::8")]
    [InlineData("::ffff:192.0.2.1")]
    [InlineData("64:ff9b::192.0.2.33")]
    [InlineData("1:2:3:4:5:6:1.2.3.4")]
    public void Parses_what_IP_address_parses_to_the_same_value(string text)
    {
        Assert.Equal(Peer(IPAddress.Parse(text)), Address(text));
    }

    // The sockaddr accept4 fills in for a client at this address, read as the event loop reads it.
    private static UInt128 Peer(IPAddress address)
    {
        byte[] sockaddr = new byte[28];
        bool v4 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
        sockaddr[0] = v4 ? (byte)2 : (byte)10;
        address.TryWriteBytes(v4 ? sockaddr.AsSpan(4, 4) : sockaddr.AsSpan(8, 16), out _);
        return PeerAddress.FromSocketAddress(sockaddr).Value;
    }

    [Theory]
    [InlineData("")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("127.1")]
    [InlineData("256.0.0.1")]
    [InlineData("010.0.0.1")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("1.2.3.4 ")]
    [InlineData(":::")]
    [InlineData("1::2::3")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("1:2:3:4:5:6:7")]
    [InlineData("12345::")]
    [InlineData("1:")]
    [InlineData(":1")]
    [InlineData("fe80::1%eth0")]
    [InlineData("[::1]")]
    [InlineData("::1.2.3")]
    [InlineData("1:2:3:4:5:6:7:1.2.3.4")]
    [InlineData("g::1")]
    public void Refuses_everything_else(string text) => Assert.False(NetAddress.TryParse(Encoding.ASCII.GetBytes(text), out _));

    [Fact]
    public void An_IPv4_client_on_a_dual_mode_socket_is_the_same_address()
    {
        UInt128 mapped = Peer(IPAddress.Parse("192.0.2.7").MapToIPv6());
        Assert.Equal(Peer(IPAddress.Parse("192.0.2.7")), mapped);
        Assert.Equal(Address("192.0.2.7"), mapped);
        Assert.True(Range("192.0.2.0/24").Contains(mapped));
        Assert.True(NetAddress.IsIPv4(mapped));
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.255.1.2", true)]
    [InlineData("10.0.0.0/8", "11.0.0.0", false)]
    [InlineData("192.0.2.7", "192.0.2.7", true)]
    [InlineData("192.0.2.7", "192.0.2.8", false)]
    [InlineData("192.0.2.7/32", "192.0.2.7", true)]
    [InlineData("0.0.0.0/0", "203.0.113.9", true)]
    [InlineData("0.0.0.0/0", "2001:db8::1", false)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/32", "2001:db9::1", false)]
    [InlineData("::/0", "2001:db8::1", true)]
    [InlineData("::/0", "192.0.2.1", true)]
    [InlineData("::ffff:0:0/96", "192.0.2.1", true)]
    [InlineData("2001:db8::1", "2001:db8::1", true)]
    [InlineData("2001:db8::1/128", "2001:db8::2", false)]
    [InlineData("fd00::/8", "fdab::1", true)]
    public void Contains(string range, string address, bool expected) => Assert.Equal(expected, Range(range).Contains(Address(address)));

    [Theory]
    [InlineData("10.0.0.0/33", "0 to 32")]
    [InlineData("2001:db8::/129", "0 to 128")]
    [InlineData("10.0.0.0/", "0 to 32")]
    [InlineData("10.0.0.0/08", "0 to 32")]
    [InlineData("10.0.0.0/-1", "0 to 32")]
    [InlineData("10.0.0.0/8/8", "0 to 32")]
    [InlineData("10.0.0/8", "an IPv4 or IPv6 address or CIDR block")]
    [InlineData("office", "an IPv4 or IPv6 address or CIDR block")]
    [InlineData("192.168.1.0/16", "did you mean 192.168.0.0/16?")]
    [InlineData("2001:db8::1/32", "did you mean 2001:db8::/32?")]
    public void Refuses_a_bad_range(string text, string reason)
    {
        Assert.False(AddressRange.TryParse(text, out _, out string error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }
}
