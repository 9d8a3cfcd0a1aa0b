using System.Security.Cryptography;
using System.Text;

namespace PixelPing.Flushing;

/// <summary>
/// The <c>X-Pixel-Ping-Signature</c> header value: lets a receiver check that a batch came from a server that
/// knows the secret and was not altered on the way, which the secret in the body alone cannot show.
/// </summary>
internal static class Signature
{
    public static string Sign(byte[] body, string secret) => Sign([body], secret);

    /// <summary>The signature of a body given in pieces (see <see cref="BatchEncoder.EncodeBodyChunks"/>).</summary>
    public static string Sign(IEnumerable<ReadOnlyMemory<byte>> body, string secret)
    {
        // Same UTF-8 bytes as the body's secret field (a lone surrogate becomes U+FFFD in both).
        byte[] key = Encoding.UTF8.GetBytes(secret);
        using var mac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        foreach (ReadOnlyMemory<byte> piece in body)
        {
            mac.AppendData(piece.Span);
        }

        return "sha256=" + Convert.ToHexStringLower(mac.GetHashAndReset());
    }
}
