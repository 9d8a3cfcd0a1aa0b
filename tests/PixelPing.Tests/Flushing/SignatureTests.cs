using System.Text;
using PixelPing.Flushing;

namespace PixelPing.Tests.Flushing;

public sealed class SignatureTests
{
    // Each expected value was made with OpenSSL on the same bytes, e.g.
    //   printf '%s' 'json=%7B%22a%20b%22%3A2%7D&secret=s%C3%A9cret&batch=b1' | openssl dgst -sha256 -hmac 'sécret'
    // (a UTF-8 terminal, so the key is the UTF-8 bytes 73 C3 A9 63 72 65 74). The long key below was given as
    // -hmac "$(printf 'x%.0s' $(seq 1 100))".
    [Theory]
    [InlineData("json=%7B%22a%20b%22%3A2%7D&secret=s%C3%A9cret&batch=b1", "s\u00E9cret", "721c89ace84e38d4618be4907a3e3a96fb47350462edbc0edca7c1f747662f32")]
    [InlineData("json=%7B%7D&batch=1", "k", "17888a928e6d9fd134ca76169a6fb453de4429bea88877d208a8f466c160777e")]
    [InlineData("", "key", "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0")]
    public void Signs_the_body_with_hmac_sha256_of_the_utf8_secret(string body, string secret, string expectedHex)
    {
        string signature = Sign(Encoding.ASCII.GetBytes(body), secret);

        Assert.Equal("sha256=" + expectedHex, signature);
    }

    [Fact]
    public void Key_longer_than_the_hash_block_is_hashed_first()
    {
        string signature = Sign("json=%7B%7D&batch=1"u8.ToArray(), new string('x', 100));

        Assert.Equal("sha256=5c612e60a82ddca8c6a4b2fbd0f982afd2a4d747ee88efbd973bec7dc1563d79", signature);
    }

    [Fact]
    public void Body_fed_in_pieces_signs_as_the_whole()
    {
        byte[] body = Encoding.ASCII.GetBytes("json=%7B%22a%20b%22%3A2%7D&secret=s%C3%A9cret&batch=b1");
        using var mac = Signature.Start("s\u00E9cret");
        for (int i = 0; i < body.Length; i += 7)
        {
            mac.AppendData(body.AsSpan(i, Math.Min(7, body.Length - i)));
        }

        Assert.Equal(Sign(body, "s\u00E9cret"), Signature.Finish(mac));
        Assert.Equal("sha256=721c89ace84e38d4618be4907a3e3a96fb47350462edbc0edca7c1f747662f32", Sign(body, "s\u00E9cret"));
    }

    private static string Sign(byte[] body, string secret)
    {
        using var mac = Signature.Start(secret);
        mac.AppendData(body);
        return Signature.Finish(mac);
    }
}
