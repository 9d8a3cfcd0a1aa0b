namespace PixelPing.Filtering;

/// <summary>
/// The client address behind trusted proxies. Only when the peer is a trusted proxy are its headers believed:
/// <c>X-Forwarded-For</c> when present, else <c>Forwarded</c> (RFC 7239). In either, the list is read from the right
/// (the hop nearest to us) and the first address that is not itself a trusted proxy is the client; addresses further
/// left were written by the client or by proxies we do not know, and could be anything. A header that does not parse
/// gives the peer address: a bad header never makes an error, and never lets a client choose its address.
/// </summary>
internal static class ProxyHeaders
{
    public static UInt128 ClientAddress(UInt128 peer, AddressRange[] trusted, ReadOnlySpan<byte> xForwardedFor, bool hasXForwardedFor,
        ReadOnlySpan<byte> forwarded, bool hasForwarded)
    {
        if (!AddressRange.AnyContains(trusted, peer))
        {
            return peer;
        }

        if (hasXForwardedFor)
        {
            return FromXForwardedFor(xForwardedFor, trusted, out UInt128 client) ? client : peer;
        }

        return hasForwarded && FromForwarded(forwarded, trusted, out UInt128 found) ? found : peer;
    }

    /// <summary>
    /// <c>X-Forwarded-For: client, proxy1, proxy2</c>. Elements may carry a port (<c>192.0.2.1:5000</c>,
    /// <c>[2001:db8::1]:5000</c>, as some load balancers write them); empty elements are skipped (RFC 9110 §5.6.1).
    /// When every address is a trusted proxy the leftmost one is the client.
    /// </summary>
    private static bool FromXForwardedFor(ReadOnlySpan<byte> value, AddressRange[] trusted, out UInt128 client)
    {
        client = UInt128.Zero;
        bool any = false;
        while (true)
        {
            int comma = value.LastIndexOf((byte)',');
            ReadOnlySpan<byte> element = value[(comma + 1)..].Trim(" \t"u8);
            if (!element.IsEmpty)
            {
                if (!TryParseNode(element, quotedForm: false, out UInt128 address))
                {
                    return false;
                }

                if (IsClient(address, trusted, ref client, ref any))
                {
                    return true;
                }
            }

            if (comma < 0)
            {
                return any;
            }

            value = value[..comma];
        }
    }

    /// <summary>
    /// <c>Forwarded: for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711"</c> (RFC 7239 §4): comma-separated
    /// elements of semicolon-separated pairs, values tokens or quoted strings. An element without <c>for=</c>, or with
    /// <c>unknown</c> or an obfuscated identifier (§6.2, §6.3) where we need an address, makes the header unusable.
    /// </summary>
    private static bool FromForwarded(ReadOnlySpan<byte> value, AddressRange[] trusted, out UInt128 client)
    {
        client = UInt128.Zero;
        Span<Range> elements = stackalloc Range[64];
        int count = SplitOutsideQuotes(value, (byte)',', elements);
        if (count <= 0)
        {
            return false;
        }

        bool any = false;
        for (int e = count - 1; e >= 0; e--)
        {
            ReadOnlySpan<byte> element = value[elements[e]].Trim(" \t"u8);
            if (element.IsEmpty)
            {
                continue;
            }

            if (!TryFindFor(element, out ReadOnlySpan<byte> node) || !TryParseNode(node, quotedForm: true, out UInt128 address))
            {
                return false;
            }

            if (IsClient(address, trusted, ref client, ref any))
            {
                return true;
            }
        }

        return any;
    }

    // One step of the walk from the nearest hop outwards: the address is the client so far, and the client for good
    // unless it is one of the trusted proxies.
    private static bool IsClient(UInt128 address, AddressRange[] trusted, ref UInt128 client, ref bool any)
    {
        client = address;
        any = true;
        return !AddressRange.AnyContains(trusted, address);
    }

    private static bool TryFindFor(ReadOnlySpan<byte> element, out ReadOnlySpan<byte> node)
    {
        node = default;
        Span<Range> pairs = stackalloc Range[16];
        int count = SplitOutsideQuotes(element, (byte)';', pairs);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> pair = element[pairs[i]].Trim(" \t"u8);
            int equals = pair.IndexOf((byte)'=');
            if (equals < 0 || !System.Text.Ascii.EqualsIgnoreCase(pair[..equals].Trim(" \t"u8), "for"u8))
            {
                continue;
            }

            node = pair[(equals + 1)..].Trim(" \t"u8);
            if (node.Length >= 2 && node[0] == (byte)'"' && node[^1] == (byte)'"')
            {
                // quoted-string (RFC 9110 §5.6.4); a backslash escape has no business in an address.
                node = node[1..^1];
                if (node.IndexOf((byte)'\\') >= 0)
                {
                    return false;
                }
            }

            return true;
        }

        return false;
    }

    /// <summary>
    /// <c>192.0.2.1</c>, <c>192.0.2.1:port</c>, <c>[2001:db8::1]</c>, <c>[2001:db8::1]:port</c>, and in
    /// X-Forwarded-For (never in Forwarded, where RFC 7239 §6 requires the brackets) a bare <c>2001:db8::1</c>.
    /// </summary>
    private static bool TryParseNode(ReadOnlySpan<byte> node, bool quotedForm, out UInt128 address)
    {
        address = UInt128.Zero;
        if (node.IsEmpty)
        {
            return false;
        }

        if (node[0] == (byte)'[')
        {
            int close = node.IndexOf((byte)']');
            if (close < 0 || !IsPortSuffix(node[(close + 1)..]))
            {
                return false;
            }

            return NetAddress.TryParse(node[1..close], out address);
        }

        int colon = node.IndexOf((byte)':');
        if (colon >= 0 && node[(colon + 1)..].IndexOf((byte)':') >= 0)
        {
            return !quotedForm && NetAddress.TryParse(node, out address);
        }

        return colon < 0
            ? NetAddress.TryParse(node, out address)
            : IsPortSuffix(node[colon..]) && NetAddress.TryParse(node[..colon], out address);
    }

    /// <summary>Nothing, or ':' and 1-5 digits (RFC 7239 §6 node-port; obfuscated ports are refused as not an address).</summary>
    private static bool IsPortSuffix(ReadOnlySpan<byte> rest)
    {
        if (rest.IsEmpty)
        {
            return true;
        }

        if (rest[0] != (byte)':' || rest.Length is < 2 or > 6)
        {
            return false;
        }

        foreach (byte b in rest[1..])
        {
            if ((uint)(b - '0') > 9)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Splits on <paramref name="separator"/> outside double-quoted strings; -1 when there are more parts than room or a
    /// quoted string does not end.
    /// </summary>
    private static int SplitOutsideQuotes(ReadOnlySpan<byte> value, byte separator, Span<Range> parts)
    {
        int count = 0;
        int start = 0;
        bool quoted = false;
        for (int i = 0; i < value.Length; i++)
        {
            byte b = value[i];
            if (quoted)
            {
                if (b == (byte)'\\')
                {
                    i++;
                }
                else if (b == (byte)'"')
                {
                    quoted = false;
                }
            }
            else if (b == (byte)'"')
            {
                quoted = true;
            }
            else if (b == separator)
            {
                if (count == parts.Length)
                {
                    return -1;
                }

                parts[count++] = new Range(start, i);
                start = i + 1;
            }
        }

        if (quoted || start > value.Length || count == parts.Length)
        {
            return -1;
        }

        parts[count++] = new Range(start, value.Length);
        return count;
    }
}
