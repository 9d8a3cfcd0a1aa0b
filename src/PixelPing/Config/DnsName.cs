using static PixelPing.Common.Quoting;
using static System.FormattableString;

namespace PixelPing.Config;

/// <summary>
/// The length limits of a DNS name (RFC 1035 §2.3.4, RFC 1123 §2.1): a host name that no resolver can ever look up is
/// refused in the config, where one line names it, instead of failing every flush. Which characters a label holds is
/// left to the resolver: <c>_</c> is common in Compose service names and <c>/etc/hosts</c>.
/// </summary>
internal static class DnsName
{
    // 255 octets on the wire are 253 characters of text: each label's length octet but the first is a dot, and the
    // root's empty label is the final dot, which a fully qualified name may carry.
    private const int MaxLength = 253;
    private const int MaxLabel = 63;

    /// <summary>Why no resolver can look this name up, as a complaint about the endpoint, or null.</summary>
    public static string? Problem(string host)
    {
        ReadOnlySpan<char> name = host.EndsWith('.') ? host.AsSpan(0, host.Length - 1) : host;
        if (name.Length > MaxLength)
        {
            return Invariant($"must have a host name of at most {MaxLength} characters (got one of {name.Length})");
        }

        foreach (Range range in name.Split('.'))
        {
            ReadOnlySpan<char> label = name[range];
            if (label.IsEmpty)
            {
                // Two dots in a row, or a dot first.
                return $"must have a host name without empty labels (got {Quote(host)})";
            }

            if (label.Length > MaxLabel)
            {
                return Invariant($"must have host name labels of at most {MaxLabel} characters (got one of {label.Length}: {Quote(label.ToString())})");
            }
        }

        return null;
    }
}
