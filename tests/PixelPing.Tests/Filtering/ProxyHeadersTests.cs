using System.Text;
using PixelPing.Filtering;

namespace PixelPing.Tests.Filtering;

public sealed class ProxyHeadersTests
{
    private static readonly AddressRange[] s_trusted = [Range("10.0.0.0/8"), Range("2001:db8:ffff::/48")];

    private static AddressRange Range(string text) =>
        AddressRange.TryParse(text, out AddressRange range, out string error) ? range : throw new FormatException(error);

    private static UInt128 Address(string text) =>
        NetAddress.TryParse(Encoding.ASCII.GetBytes(text), out UInt128 address) ? address : throw new FormatException(text);

    private static UInt128 Client(string peer, string? xForwardedFor, string? forwarded) => ProxyHeaders.ClientAddress(
        Address(peer),
        s_trusted,
        Encoding.Latin1.GetBytes(xForwardedFor ?? ""),
        xForwardedFor is not null,
        Encoding.Latin1.GetBytes(forwarded ?? ""),
        forwarded is not null);

    [Theory]
    // An untrusted peer is the client, whatever it claims.
    [InlineData("192.0.2.9", "203.0.113.1", null, "192.0.2.9")]
    [InlineData("192.0.2.9", null, "for=203.0.113.1", "192.0.2.9")]
    // A trusted peer: the rightmost address that is not a trusted proxy.
    [InlineData("10.0.0.1", "203.0.113.1", null, "203.0.113.1")]
    [InlineData("10.0.0.1", "198.51.100.66, 203.0.113.1", null, "203.0.113.1")]
    [InlineData("10.0.0.1", "198.51.100.66, 203.0.113.1, 10.1.1.1, 10.2.2.2", null, "203.0.113.1")]
    [InlineData("10.0.0.1", "10.9.9.9, 10.1.1.1", null, "10.9.9.9")]
    [InlineData("10.0.0.1", " 203.0.113.1 ,, ", null, "203.0.113.1")]
    [InlineData("10.0.0.1", "203.0.113.1:56789", null, "203.0.113.1")]
    [InlineData("10.0.0.1", "2001:db8::7", null, "2001:db8::7")]
    [InlineData("10.0.0.1", "[2001:db8::7]:443", null, "2001:db8::7")]
    [InlineData("10.0.0.1", "2001:db8::7, 2001:db8:ffff::1", null, "2001:db8::7")]
    [InlineData("2001:db8:ffff::5", "::ffff:203.0.113.1", null, "203.0.113.1")]
    // Malformed: the peer.
    [InlineData("10.0.0.1", "", null, "10.0.0.1")]
    [InlineData("10.0.0.1", "unknown", null, "10.0.0.1")]
    [InlineData("10.0.0.1", "203.0.113.1, garbage", null, "10.0.0.1")]
    [InlineData("10.0.0.1", "203.0.113.1:http", null, "10.0.0.1")]
    [InlineData("10.0.0.1", "[2001:db8::7", null, "10.0.0.1")]
    [InlineData("10.0.0.1", "203.0.113.1:1234567", null, "10.0.0.1")]
    // garbage further left than the client is never read.
    [InlineData("10.0.0.1", "garbage, 203.0.113.1", null, "203.0.113.1")]
    // Forwarded (RFC 7239), only without X-Forwarded-For.
    [InlineData("10.0.0.1", null, "for=203.0.113.1", "203.0.113.1")]
    [InlineData("10.0.0.1", null, "For=\"203.0.113.1:4711\";proto=https;by=10.0.0.1", "203.0.113.1")]
    [InlineData("10.0.0.1", null, "for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17")]
    [InlineData("10.0.0.1", null, "for=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17")]
    [InlineData("10.0.0.1", null, "for=198.51.100.1, for=203.0.113.1;proto=http, for=10.3.3.3", "203.0.113.1")]
    [InlineData("10.0.0.1", null, "for=\"198.51.100.1, 7\", for=203.0.113.1", "203.0.113.1")]
    [InlineData("10.0.0.1", null, "proto=http;for=203.0.113.1", "203.0.113.1")]
    [InlineData("10.0.0.1", null, "for=unknown", "10.0.0.1")]
    [InlineData("10.0.0.1", null, "for=_hidden", "10.0.0.1")]
    [InlineData("10.0.0.1", null, "proto=http", "10.0.0.1")]
    [InlineData("10.0.0.1", null, "for=2001:db8::7", "10.0.0.1")]
    [InlineData("10.0.0.1", null, "for=\"[2001:db8::7]", "10.0.0.1")]
    [InlineData("10.0.0.1", null, "for=\"203.0.113.1\\\"\"", "10.0.0.1")]
    [InlineData("10.0.0.1", null, "", "10.0.0.1")]
    [InlineData("10.0.0.1", null, "for=", "10.0.0.1")]
    [InlineData("10.0.0.1", null, "for=\"\"", "10.0.0.1")]
    // X-Forwarded-For wins when both are present.
    [InlineData("10.0.0.1", "203.0.113.1", "for=198.51.100.1", "203.0.113.1")]
    public void Resolves(string peer, string? xForwardedFor, string? forwarded, string expected) =>
        Assert.Equal(Address(expected), Client(peer, xForwardedFor, forwarded));

    [Fact]
    public void A_forwarded_header_with_more_hops_than_it_reads_gives_the_peer()
    {
        string many = string.Join(", ", Enumerable.Repeat("for=203.0.113.1", 100));
        Assert.Equal(Address("10.0.0.1"), Client("10.0.0.1", null, many));
    }
}
