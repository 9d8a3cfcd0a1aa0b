using System.Text;

namespace PixelPing.Filtering;

/// <summary>
/// One <c>keys</c> pattern: the decoded key must match it whole, <c>*</c> standing for any run of bytes (none
/// included); every other character is literal. Matched as literal pieces (a prefix, pieces found left to right with a
/// vectorised search, a suffix), so the cost is linear in the key whatever the pattern, with no backtracking a crafted
/// key could exploit.
/// </summary>
internal sealed class KeyPattern
{
    private readonly byte[] _prefix;
    private readonly byte[][] _middle;
    private readonly byte[] _suffix;
    private readonly bool _hasStar;

    /// <summary>Longest pattern, in UTF-8 bytes: far past any real key scheme, and it bounds the matching work per hit.</summary>
    public const int MaxBytes = 256;

    /// <summary>What a pattern must be instead, in words that follow the config reader's "item 2 must be ..."; null when it is fine.</summary>
    public static string? Problem(string pattern) => pattern.Length == 0 || Encoding.UTF8.GetByteCount(pattern) > MaxBytes
        ? $"a non-empty key pattern of at most {MaxBytes} bytes, such as \"story:*\""
        : null;

    public KeyPattern(string pattern)
    {
        string[] pieces = pattern.Split('*');
        _hasStar = pieces.Length > 1;
        _prefix = Encoding.UTF8.GetBytes(pieces[0]);
        _suffix = _hasStar ? Encoding.UTF8.GetBytes(pieces[^1]) : [];
        _middle = _hasStar
            ? [.. pieces[1..^1].Where(piece => piece.Length > 0).Select(Encoding.UTF8.GetBytes)]
            : [];
    }

    public static bool AnyMatches(KeyPattern[] patterns, ReadOnlySpan<byte> key)
    {
        foreach (KeyPattern pattern in patterns)
        {
            if (pattern.Matches(key))
            {
                return true;
            }
        }

        return false;
    }

    public bool Matches(ReadOnlySpan<byte> key)
    {
        if (!_hasStar)
        {
            return key.SequenceEqual(_prefix);
        }

        if (key.Length < _prefix.Length + _suffix.Length || !key.StartsWith(_prefix) || !key.EndsWith(_suffix))
        {
            return false;
        }

        // Between the prefix and the suffix, each piece at its leftmost place leaves the most room for the next:
        // with '*' as the only wildcard, that greedy choice finds a match whenever there is one.
        ReadOnlySpan<byte> rest = key[_prefix.Length..^_suffix.Length];
        foreach (byte[] piece in _middle)
        {
            int at = rest.IndexOf(piece);
            if (at < 0)
            {
                return false;
            }

            rest = rest[(at + piece.Length)..];
        }

        return true;
    }
}
