using System.Buffers;
using System.Text;

namespace PixelPing.Http;

/// <summary>
/// A strict HTTP/1.1 request-head parser (RFC 9112) for a server that only answers <c>GET/HEAD /pixel.gif</c>.
/// Modelled on Kestrel's HttpParser, much smaller: no header collection, only the four fields that decide framing
/// and routing are interpreted. It never throws and never allocates; every scan is a vectorised span search.
/// </summary>
/// <remarks>
/// The input is read strictly left to right and the first fault found wins, with errors reported as soon as a
/// prefix proves them. So a prefix that is an error stays that error however more bytes arrive, and a client cannot
/// make us buffer past a limit by sending slowly.
/// </remarks>
internal static class RequestParser
{
    private const byte CR = (byte)'\r';
    private const byte LF = (byte)'\n';
    private const byte SP = (byte)' ';

    private const int BadRequest = 400;
    private const int PayloadTooLarge = 413;
    private const int UriTooLong = 414;
    private const int HeaderFieldsTooLarge = 431;
    private const int NotImplemented = 501;
    private const int VersionNotSupported = 505;

    // RFC 9110 §5.6.2: token = 1*tchar. Method and field names.
    private static readonly SearchValues<byte> s_tchar =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // Bytes that end a request line or make it invalid: all CTLs (HTAB too: RFC 9112 §3 separates the parts by
    // exactly one SP) and DEL. The first one found must be the CR of CRLF. Bytes 0x80-0xFF are tolerated (raw UTF-8).
    private static readonly SearchValues<byte> s_requestLineStop = SearchValues.Create(Controls(includeHtab: true));

    // Bytes that end a field line or make it invalid: CTLs except HTAB, and DEL (RFC 9110 §5.5 field-vchar / obs-text).
    private static readonly SearchValues<byte> s_fieldLineStop = SearchValues.Create(Controls(includeHtab: false));

    // RFC 3986 host [ ":" port ]: unreserved, pct-encoded, sub-delims, ':' and the IP-literal brackets. Checked on the
    // Host header (RFC 9112 §3.2: an invalid Host value is a 400) and on an absolute-form authority, which also rules
    // out userinfo ('@'), which RFC 9110 §4.2.4 tells recipients to treat as an error.
    private static readonly SearchValues<byte> s_hostBytes =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=:[]"u8);

    private static ReadOnlySpan<byte> Ows => " \t"u8;
    private static ReadOnlySpan<byte> PixelPath => "/pixel.gif"u8;

    public static ParsedRequest Parse(ReadOnlySpan<byte> input, in HttpLimits limits)
    {
        // ---- Request line (RFC 9112 §3) ----
        // The CR that ends the line must sit before offset limit-1 so that its LF still fits in the limit.
        // Clamped so that a default(HttpLimits) cannot make us slice out of range.
        int lineBudget = Math.Max(limits.MaxRequestLineBytes - 1, 0);
        int lineEnd = Math.Min(input.Length, lineBudget);
        bool lineBudgetSpent = input.Length >= lineBudget;

        // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line. We ignore any
        // number, but they count towards MaxRequestLineBytes so that a stream of CRLFs cannot be buffered forever.
        int pos = 0;
        while (pos < lineEnd && input[pos] == CR)
        {
            if (pos + 1 >= input.Length)
            {
                return ParsedRequest.Incomplete;
            }

            if (input[pos + 1] != LF)
            {
                return ParsedRequest.Error(BadRequest);
            }

            pos += 2;
        }

        if (pos >= lineEnd)
        {
            return lineBudgetSpent ? ParsedRequest.Error(UriTooLong) : ParsedRequest.Incomplete;
        }

        ReadOnlySpan<byte> lineWindow = input[pos..lineEnd];
        int stop = lineWindow.IndexOfAny(s_requestLineStop);
        RequestLine line;
        int status;
        if (stop < 0)
        {
            // No line end yet: check what we have so garbage is refused now rather than after 8 KiB.
            status = ParseRequestLine(lineWindow, complete: false, out _);
            if (status != 0)
            {
                return ParsedRequest.Error(status);
            }

            return lineBudgetSpent ? ParsedRequest.Error(UriTooLong) : ParsedRequest.Incomplete;
        }

        // A bare LF, NUL, HTAB or any other control in the line: 400. RFC 9112 §2.2 lets a recipient accept a bare
        // LF as a line end; we do not, since parsers that disagree on line ends are how requests get smuggled.
        if (lineWindow[stop] != CR)
        {
            return ParsedRequest.Error(BadRequest);
        }

        // The line content is judged before the LF is checked, so "HTTP/2.0\r" already answers 505.
        status = ParseRequestLine(lineWindow[..stop], complete: true, out line);
        if (status != 0)
        {
            return ParsedRequest.Error(status);
        }

        if (line.QueryStart != 0)
        {
            line.QueryStart += pos;
        }

        line.PathStart += pos;

        int cr = pos + stop;
        if (cr + 1 >= input.Length)
        {
            return ParsedRequest.Incomplete;
        }

        if (input[cr + 1] != LF)
        {
            return ParsedRequest.Error(BadRequest);
        }

        // ---- Header fields (RFC 9112 §5) ----
        int headersStart = cr + 2;
        int headerBudget = Math.Max(limits.MaxHeaderBytes - 1, 0);
        int available = input.Length - headersStart;
        int headersEnd = headersStart + Math.Min(available, headerBudget);
        bool headerBudgetSpent = available >= headerBudget;

        var fields = default(FieldState);
        int count = 0;
        int p = headersStart;
        while (true)
        {
            if (p >= headersEnd)
            {
                return headerBudgetSpent ? ParsedRequest.Error(HeaderFieldsTooLarge) : ParsedRequest.Incomplete;
            }

            byte first = input[p];
            if (first == CR)
            {
                if (p + 1 >= input.Length)
                {
                    return ParsedRequest.Incomplete;
                }

                if (input[p + 1] != LF)
                {
                    return ParsedRequest.Error(BadRequest);
                }

                return Finish(p + 2, in line, in fields);
            }

            // A line starting with SP/HTAB is obs-fold (RFC 9112 §5.2; or whitespace after the start line, §2.2):
            // rejected. So is a bare LF or a line with an empty name.
            if (!s_tchar.Contains(first))
            {
                return ParsedRequest.Error(BadRequest);
            }

            if (count >= limits.MaxHeaderCount)
            {
                return ParsedRequest.Error(HeaderFieldsTooLarge);
            }

            ReadOnlySpan<byte> fieldWindow = input[p..headersEnd];
            stop = fieldWindow.IndexOfAny(s_fieldLineStop);
            if (stop < 0)
            {
                // Unfinished line: its name so far must be a token; the value cannot be judged until it ends.
                int nameEnd = fieldWindow.IndexOfAnyExcept(s_tchar);
                if (nameEnd >= 0 && fieldWindow[nameEnd] != (byte)':')
                {
                    return ParsedRequest.Error(BadRequest);
                }

                return headerBudgetSpent ? ParsedRequest.Error(HeaderFieldsTooLarge) : ParsedRequest.Incomplete;
            }

            if (fieldWindow[stop] != CR)
            {
                return ParsedRequest.Error(BadRequest);
            }

            status = ParseField(fieldWindow[..stop], limits.MaxBodyBytes, ref fields);
            if (status != 0)
            {
                return ParsedRequest.Error(status);
            }

            count++;
            cr = p + stop;
            if (cr + 1 >= input.Length)
            {
                return ParsedRequest.Incomplete;
            }

            if (input[cr + 1] != LF)
            {
                return ParsedRequest.Error(BadRequest);
            }

            p = cr + 2;
        }
    }

    private static ParsedRequest Finish(int headLength, in RequestLine line, in FieldState fields)
    {
        // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (duplicates were refused as they arrived).
        if (!line.IsHttp10 && fields.HostCount == 0)
        {
            return ParsedRequest.Error(BadRequest);
        }

        if (fields.HasTransferEncoding)
        {
            // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing (400). In 1.1 it is a
            // coding we do not decode (we never read chunked bodies): 501, RFC 9112 §6.1 / RFC 9110 §15.6.2.
            // (Transfer-Encoding together with Content-Length was already refused.)
            return ParsedRequest.Error(line.IsHttp10 ? BadRequest : NotImplemented);
        }

        // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 persists only with "keep-alive". "close" wins over both.
        bool keepAlive = !fields.ConnectionClose && (!line.IsHttp10 || fields.ConnectionKeepAlive);
        return ParsedRequest.Complete(
            headLength,
            line.Method,
            line.IsPixel,
            line.PathStart,
            line.PathLength,
            line.QueryStart,
            line.QueryLength,
            keepAlive,
            line.IsHttp10,
            fields.ContentLength);
    }

    /// <summary>
    /// Checks <c>method SP request-target SP HTTP-version</c> (RFC 9112 §3). When <paramref name="complete"/> is false the
    /// span is an unfinished line: it passes if it can still grow into a valid one. Returns 0 or an error status.
    /// </summary>
    private static int ParseRequestLine(ReadOnlySpan<byte> span, bool complete, out RequestLine line)
    {
        line = default;

        // method = token, case-sensitive (RFC 9110 §9.1): "get" is some other method.
        int methodEnd = span.IndexOfAnyExcept(s_tchar);
        if (methodEnd < 0)
        {
            return complete ? BadRequest : 0;
        }

        if (methodEnd == 0 || span[methodEnd] != SP)
        {
            return BadRequest;
        }

        ReadOnlySpan<byte> method = span[..methodEnd];
        line.Method = method.SequenceEqual("GET"u8) ? RequestMethod.Get
            : method.SequenceEqual("HEAD"u8) ? RequestMethod.Head
            : RequestMethod.Other;

        // The span holds no controls or DEL (the caller stopped at the first), so the target runs to the next SP
        // and every byte in it is 0x21-0x7E or 0x80-0xFF.
        int targetStart = methodEnd + 1;
        ReadOnlySpan<byte> rest = span[targetStart..];
        int targetLength = rest.IndexOf(SP);
        if (targetLength < 0)
        {
            return complete ? BadRequest : ParseTarget(rest, complete: false, ref line);
        }

        // Exactly one SP between the parts: an empty target means a doubled SP.
        if (targetLength == 0)
        {
            return BadRequest;
        }

        // The SP proves the target complete even when the rest of the line has not arrived.
        int status = ParseTarget(rest[..targetLength], complete: true, ref line);
        if (status != 0)
        {
            return status;
        }

        if (line.QueryStart != 0)
        {
            line.QueryStart += targetStart;
        }

        line.PathStart += targetStart;
        return ParseVersion(rest[(targetLength + 1)..], complete, ref line);
    }

    private static int ParseTarget(ReadOnlySpan<byte> target, bool complete, ref RequestLine line)
    {
        if (target.IsEmpty)
        {
            return complete ? BadRequest : 0;
        }

        // origin-form (RFC 9112 §3.2.1) starts with '/'. Otherwise only absolute-form (§3.2.2) with an http or https
        // scheme, which proxies and some clients send: its authority is dropped (§3.2.2: the target's authority
        // overrides Host; we do not route by host) and the rest is read as origin-form, an empty path meaning "/".
        // authority-form and asterisk-form ('*') are only for CONNECT and OPTIONS, which we do not serve: 400.
        int originStart = 0;
        if (target[0] != (byte)'/')
        {
            int schemeLength = MatchScheme(target);
            if (schemeLength < 0)
            {
                return BadRequest;
            }

            if (schemeLength == 0)
            {
                return complete ? BadRequest : 0;
            }

            ReadOnlySpan<byte> afterScheme = target[schemeLength..];
            int authorityLength = afterScheme.IndexOfAny((byte)'/', (byte)'?', (byte)'#');
            ReadOnlySpan<byte> authority = authorityLength < 0 ? afterScheme : afterScheme[..authorityLength];
            if (authority.IndexOfAnyExcept(s_hostBytes) >= 0)
            {
                return BadRequest;
            }

            if (authorityLength < 0)
            {
                // "http://host": path "/", no query. An http(s) URI with an empty host is invalid (RFC 9110 §4.2.1).
                return complete && authority.IsEmpty ? BadRequest : 0;
            }

            if (authorityLength == 0)
            {
                return BadRequest;
            }

            originStart = schemeLength + authorityLength;
        }

        if (!complete)
        {
            return 0;
        }

        // The path ends at the first '?' or '#'. A fragment is not part of a request-target (RFC 9112 §3.2.1) but
        // browsers have been seen to leak one; we tolerate it and drop it: "/pixel.gif#x" is the pixel, no query.
        ReadOnlySpan<byte> origin = target[originStart..];
        int pathLength = origin.IndexOfAny((byte)'?', (byte)'#');
        ReadOnlySpan<byte> path = pathLength < 0 ? origin : origin[..pathLength];
        line.IsPixel = path.SequenceEqual(PixelPath);
        line.PathStart = originStart;
        line.PathLength = path.Length;
        if (pathLength >= 0 && origin[pathLength] == (byte)'?')
        {
            ReadOnlySpan<byte> query = origin[(pathLength + 1)..];
            int fragment = query.IndexOf((byte)'#');
            line.QueryStart = originStart + pathLength + 1;
            line.QueryLength = fragment < 0 ? query.Length : fragment;
        }

        return 0;
    }

    /// <summary>8 or 7 for "https://" or "http://" (scheme case-insensitive, RFC 3986 §3.1), 0 for a prefix of one, -1 otherwise.</summary>
    private static int MatchScheme(ReadOnlySpan<byte> target)
    {
        ReadOnlySpan<byte> http = "http://"u8;
        ReadOnlySpan<byte> https = "https://"u8;
        if (target.Length >= http.Length && Ascii.EqualsIgnoreCase(target[..http.Length], http))
        {
            return http.Length;
        }

        if (target.Length >= https.Length && Ascii.EqualsIgnoreCase(target[..https.Length], https))
        {
            return https.Length;
        }

        bool isPrefix = (target.Length < http.Length && Ascii.EqualsIgnoreCase(target, http[..target.Length]))
            || (target.Length < https.Length && Ascii.EqualsIgnoreCase(target, https[..target.Length]));
        return isPrefix ? 0 : -1;
    }

    private static int ParseVersion(ReadOnlySpan<byte> version, bool complete, ref RequestLine line)
    {
        // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3). A well-formed version we do not
        // speak is 505; anything else, including trailing bytes, is 400. An unfinished line passes while it can
        // still become "HTTP/d.d"; 505 versus 400 is decided only when the line ends.
        ReadOnlySpan<byte> pattern = "HTTP/0.0"u8;
        if (version.Length > pattern.Length)
        {
            return BadRequest;
        }

        for (int i = 0; i < version.Length; i++)
        {
            bool ok = i is 5 or 7 ? char.IsAsciiDigit((char)version[i]) : version[i] == pattern[i];
            if (!ok)
            {
                return BadRequest;
            }
        }

        if (!complete)
        {
            return 0;
        }

        if (version.Length != pattern.Length)
        {
            return BadRequest;
        }

        if (version[5] != (byte)'1' || version[7] is not ((byte)'0' or (byte)'1'))
        {
            return VersionNotSupported;
        }

        line.IsHttp10 = version[7] == (byte)'0';
        return 0;
    }

    /// <summary>Checks one complete field line (RFC 9112 §5) and interprets the four fields we care about.</summary>
    private static int ParseField(ReadOnlySpan<byte> span, int maxBodyBytes, ref FieldState fields)
    {
        // field-name ":" OWS field-value OWS. No whitespace between name and colon (RFC 9112 §5.1: MUST 400).
        // The caller has already refused controls, so the value holds only HTAB, SP, VCHAR and obs-text.
        int colon = span.IndexOfAnyExcept(s_tchar);
        if (colon <= 0 || span[colon] != (byte)':')
        {
            return BadRequest;
        }

        ReadOnlySpan<byte> name = span[..colon];
        ReadOnlySpan<byte> value = span[(colon + 1)..].Trim(Ows);
        switch (name.Length)
        {
            case 4 when Ascii.EqualsIgnoreCase(name, "Host"u8):
                // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400. An empty Host is allowed.
                fields.HostCount++;
                return fields.HostCount > 1 || value.IndexOfAnyExcept(s_hostBytes) >= 0 ? BadRequest : 0;

            case 10 when Ascii.EqualsIgnoreCase(name, "Connection"u8):
                ParseConnection(value, ref fields);
                return 0;

            case 14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8):
                return ParseContentLength(value, maxBodyBytes, ref fields);

            case 17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8):
                // With Content-Length it is the classic smuggling pair: RFC 9112 §6.3 lets a server refuse it, and
                // we do (400) rather than guess which framing an upstream proxy used.
                fields.HasTransferEncoding = true;
                return fields.HasContentLength ? BadRequest : 0;

            default:
                return 0;
        }
    }

    private static int ParseContentLength(ReadOnlySpan<byte> value, int maxBodyBytes, ref FieldState fields)
    {
        // Strict: exactly one Content-Length line holding 1*DIGIT (RFC 9112 §6.3 item 5 allows accepting a list of
        // equal values; we do not, since intermediaries disagree on such lists). With Transfer-Encoding: 400.
        if (fields.HasContentLength || fields.HasTransferEncoding || value.IsEmpty)
        {
            return BadRequest;
        }

        fields.HasContentLength = true;
        long length = 0;
        foreach (byte b in value)
        {
            int digit = b - '0';
            if ((uint)digit > 9 || length > (long.MaxValue - digit) / 10)
            {
                return BadRequest;
            }

            length = (length * 10) + digit;
        }

        fields.ContentLength = length;
        return length > maxBodyBytes ? PayloadTooLarge : 0;
    }

    private static void ParseConnection(ReadOnlySpan<byte> value, ref FieldState fields)
    {
        // A comma-separated list of case-insensitive options (RFC 9110 §7.6.1); empty elements and options other
        // than close/keep-alive are ignored. Several Connection lines add up.
        while (true)
        {
            int comma = value.IndexOf((byte)',');
            ReadOnlySpan<byte> option = (comma < 0 ? value : value[..comma]).Trim(Ows);
            if (Ascii.EqualsIgnoreCase(option, "close"u8))
            {
                fields.ConnectionClose = true;
            }
            else if (Ascii.EqualsIgnoreCase(option, "keep-alive"u8))
            {
                fields.ConnectionKeepAlive = true;
            }

            if (comma < 0)
            {
                return;
            }

            value = value[(comma + 1)..];
        }
    }

    private static byte[] Controls(bool includeHtab)
    {
        // 0x00-0x1F and DEL (0x7F), optionally without HTAB (0x09). Runs once, at type initialisation.
        byte[] bytes = new byte[includeHtab ? 33 : 32];
        int n = 0;
        for (int b = 0; b < 0x20; b++)
        {
            if (includeHtab || b != '\t')
            {
                bytes[n++] = (byte)b;
            }
        }

        bytes[n] = 0x7F;
        return bytes;
    }

    private struct RequestLine
    {
        public RequestMethod Method;
        public bool IsHttp10;
        public bool IsPixel;
        public int PathStart;
        public int PathLength;
        public int QueryStart;
        public int QueryLength;
    }

    private struct FieldState
    {
        public int HostCount;
        public bool HasContentLength;
        public bool HasTransferEncoding;
        public bool ConnectionClose;
        public bool ConnectionKeepAlive;
        public long ContentLength;
    }
}
