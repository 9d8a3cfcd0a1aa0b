using System.Security.Cryptography;
using System.Text;

namespace PixelPing.Flushing;

/// <summary>
/// The <c>X-Pixel-Ping-Signature</c> header value: lets a receiver check that a batch came from a server that
/// knows the secret and was not altered on the way, which the secret in the body alone cannot show.
/// </summary>
internal static class Signature
{
    /// <summary>An HMAC-SHA256 keyed with the secret, to be fed the body's pieces as they are made.</summary>
    public static IncrementalHash Start(string secret) =>
        // Same UTF-8 bytes as the body's secret field (a lone surrogate becomes U+FFFD in both).
        IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));

    /// <summary>The header value for what <paramref name="mac"/> has been fed.</summary>
    public static string Finish(IncrementalHash mac) => "sha256=" + Convert.ToHexStringLower(mac.GetHashAndReset());
}
