using System.Text;

namespace PixelPing.Filtering;

/// <summary>
/// The <c>referrers</c> allow-list: host names (<c>example.org</c>) and subdomain wildcards (<c>*.example.com</c>, which
/// matches <c>www.example.com</c> and <c>a.b.example.com</c> but not <c>example.com</c> itself, as in TLS certificates).
/// Hosts compare whole and case-insensitively, so <c>example.org.evil.test</c> and <c>badexample.org</c> do not match
/// <c>example.org</c>.
/// </summary>
internal sealed class ReferrerHosts
{
    private const int MaxHostLength = 253;

    private readonly byte[][] _exact;
    private readonly byte[][] _suffixes;

    private ReferrerHosts(byte[][] exact, byte[][] suffixes)
    {
        _exact = exact;
        _suffixes = suffixes;
    }

    /// <summary>
    /// What a pattern must be instead, in words that follow the config reader's "item 2 must be ..."; null when it is
    /// a host name or a <c>*.</c> subdomain pattern.
    /// </summary>
    public static string? Problem(string pattern)
    {
        if (IsHostName(Normalize(pattern, out _)))
        {
            return null;
        }

        return pattern.Contains('/', StringComparison.Ordinal)
            ? "a host name such as \"example.org\", without scheme or path"
            : "a host name such as \"example.org\" or \"*.example.org\" (letters, digits, '-' and '.'; non-ASCII names in their xn-- form)";
    }

    /// <summary>The list from patterns <see cref="Problem"/> accepted.</summary>
    public static ReferrerHosts Create(IReadOnlyList<string> patterns)
    {
        var exact = new List<byte[]>();
        var suffixes = new List<byte[]>();
        foreach (string pattern in patterns)
        {
            string host = Normalize(pattern, out bool wildcard);
            (wildcard ? suffixes : exact).Add(Encoding.ASCII.GetBytes(wildcard ? "." + host : host));
        }

        return new ReferrerHosts([.. exact], [.. suffixes]);
    }

    private static string Normalize(string pattern, out bool wildcard)
    {
        wildcard = pattern.StartsWith("*.", StringComparison.Ordinal);
        string host = (wildcard ? pattern[2..] : pattern).ToLowerInvariant();
        return host.EndsWith('.') ? host[..^1] : host;
    }

    /// <summary>True when the Referer is an absolute URL whose host is on the list.</summary>
    public bool Allows(ReadOnlySpan<byte> referer)
    {
        if (!TryGetHost(referer, out ReadOnlySpan<byte> host))
        {
            return false;
        }

        foreach (byte[] name in _exact)
        {
            if (Ascii.EqualsIgnoreCase(host, name))
            {
                return true;
            }
        }

        foreach (byte[] suffix in _suffixes)
        {
            if (host.Length > suffix.Length && Ascii.EqualsIgnoreCase(host[^suffix.Length..], suffix))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The host of <c>scheme "://" [userinfo "@"] host [":" port] [path]</c> (RFC 3986 §3), without a trailing dot.
    /// A Referer without a scheme and authority (a relative reference, RFC 9110 §10.1.3, or garbage) has no host.
    /// </summary>
    private static bool TryGetHost(ReadOnlySpan<byte> referer, out ReadOnlySpan<byte> host)
    {
        host = default;
        int scheme = referer.IndexOf("://"u8);
        if (scheme <= 0 || !char.IsAsciiLetter((char)referer[0]))
        {
            return false;
        }

        ReadOnlySpan<byte> authority = referer[(scheme + 3)..];
        int end = authority.IndexOfAny("/?#"u8);
        if (end >= 0)
        {
            authority = authority[..end];
        }

        int at = authority.LastIndexOf((byte)'@');
        if (at >= 0)
        {
            authority = authority[(at + 1)..];
        }

        if (!authority.IsEmpty && authority[0] == (byte)'[')
        {
            int close = authority.IndexOf((byte)']');
            host = close < 0 ? authority : authority[..(close + 1)];
        }
        else
        {
            int colon = authority.IndexOf((byte)':');
            host = colon < 0 ? authority : authority[..colon];
        }

        if (!host.IsEmpty && host[^1] == (byte)'.')
        {
            host = host[..^1];
        }

        return !host.IsEmpty;
    }

    private static bool IsHostName(string host)
    {
        if (host.Length is 0 or > MaxHostLength)
        {
            return false;
        }

        foreach (string label in host.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }

        return true;
    }
}
