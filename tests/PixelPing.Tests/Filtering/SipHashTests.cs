using PixelPing.Filtering;

namespace PixelPing.Tests.Filtering;

public sealed class SipHashTests
{
    // The reference implementation's test vectors: key 00 01 .. 0f, message 00 01 .. (n-1) for n = 0, 1, 2, 3, 7, 8, 15.
    [Theory]
    [InlineData(0, 0x726fdb47dd0e0e31UL)]
    [InlineData(1, 0x74f839c593dc67fdUL)]
    [InlineData(2, 0x0d6c8009d9a94f5aUL)]
    [InlineData(3, 0x85676696d7fb7e2dUL)]
    [InlineData(7, 0xab0200f58b01d137UL)]
    [InlineData(8, 0x93f5f5799a932462UL)]
    [InlineData(15, 0xa129ca6149be45e5UL)]
    public void Matches_the_reference_vectors(int length, ulong expected)
    {
        var hash = new SipHash(0x0706050403020100UL, 0x0f0e0d0c0b0a0908UL);
        byte[] message = [.. Enumerable.Range(0, length).Select(i => (byte)i)];
        Assert.Equal(expected, hash.Hash(message));
    }

    [Fact]
    public void Each_process_key_gives_other_hashes()
    {
        byte[] message = [192, 0, 2, 1];
        Assert.NotEqual(SipHash.WithRandomKey().Hash(message), SipHash.WithRandomKey().Hash(message));
    }
}
