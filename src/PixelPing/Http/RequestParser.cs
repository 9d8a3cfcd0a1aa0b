using System.Buffers;
using System.Text;

namespace PixelPing.Http;

/// <summary>
/// A strict HTTP/1.1 request-head parser (RFC 9112) for a server that only answers <c>GET/HEAD /pixel.gif</c>.
/// Modelled on Kestrel's HttpParser, much smaller: no header collection, only the four fields that decide framing
/// and routing are interpreted. It never throws and never allocates; every scan is a vectorised span search.
/// </summary>
/// <remarks>
/// <para>
/// The input is read strictly left to right and the first fault found wins, with errors reported as soon as a
/// prefix proves them. So a prefix that is an error stays that error however more bytes arrive, and a client cannot
/// make us buffer past a limit by sending slowly.
/// </para>
/// <para>
/// One parser per connection: after <see cref="ParseStatus.Incomplete"/> it remembers how far it got, and the next
/// call (with the same request's bytes, now longer) goes on from there, as Kestrel advances line by line. A client
/// trickling its head a byte at a time costs work in proportion to the head, not to its square. A finished line is
/// never read again; within the unfinished one, only the bytes that arrived since the last call are looked at. After
/// a <see cref="ParseStatus.Complete"/> or <see cref="ParseStatus.Error"/> the parser starts afresh.
/// </para>
/// </remarks>
internal struct RequestParser
{
    private const byte CR = (byte)'\r';
    private const byte LF = (byte)'\n';
    private const byte SP = (byte)' ';

    // RFC 9110 §5.6.2: token = 1*tchar. Method and field names.
    private static readonly SearchValues<byte> s_tchar =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // Bytes that end a part of the request line or make it invalid: SP (RFC 9112 §3 separates the parts by exactly
    // one SP), all CTLs (HTAB too) and DEL. The line ends at the CR of CRLF. Bytes 0x80-0xFF are tolerated (raw UTF-8).
    private static readonly SearchValues<byte> s_requestLineStop = SearchValues.Create([SP, .. ByteSets.Range(0x00, 0x1F), 0x7F]);

    // Bytes that end a field line or make it invalid: CTLs except HTAB, and DEL (RFC 9110 §5.5 field-vchar / obs-text).
    private static readonly SearchValues<byte> s_fieldLineStop = SearchValues.Create([.. ByteSets.Range(0x00, 0x08), .. ByteSets.Range(0x0A, 0x1F), 0x7F]);

    // RFC 3986 host [ ":" port ]: unreserved, pct-encoded, sub-delims, ':' and the IP-literal brackets. Checked on the
    // Host header (RFC 9112 §3.2: an invalid Host value is a 400) and on an absolute-form authority, which also rules
    // out userinfo ('@'), which RFC 9110 §4.2.4 tells recipients to treat as an error.
    private static readonly SearchValues<byte> s_hostBytes =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%!$&'()*+,;=:[]"u8);

    private static ReadOnlySpan<byte> Ows => " \t"u8;
    private static ReadOnlySpan<byte> PixelPath => "/pixel.gif"u8;

    // Where the last call stopped. Offsets are from the start of the input, which is the start of the request.
    private Phase _phase;
    private int _lineStart;      // the line being read (a field line), or where the request line's current part starts
    private int _scanned;        // bytes before this offset have been read and found fine
    private bool _fieldNameEnded; // the field line being read has a whole, valid name (up to its colon)
    private bool _authorityEnded; // the request target's authority has ended and was checked
    private int _headersStart;
    private int _count;
    private RequestLine _line;
    private FieldState _fields;
    private int _headLength;
    private bool _keepAlive;
    private RequestRejection _rejection;

    private enum Phase : byte
    {
        EmptyLines,
        Method,
        Target,
        Version,
        RequestLineLf,
        FieldLine,
        FieldLineLf,
        HeadLf,
        Done,
    }

    /// <summary>
    /// Parses the request head at the start of <paramref name="input"/>. After <see cref="ParseStatus.Incomplete"/>,
    /// call again with the same bytes and more after them.
    /// </summary>
    public ParsedRequest Parse(ReadOnlySpan<byte> input, in HttpLimits limits)
    {
        if (_phase == Phase.Done)
        {
            this = default;
        }

        // The steps below report only a status (the reason of an error goes to _rejection): the result, a struct of
        // a hundred bytes, is built once, here, in the caller's variable, rather than copied out through every step.
        ParseStatus status = _phase < Phase.FieldLine ? ParseRequestLine(input, limits) : ParseStatus.Complete;
        if (status == ParseStatus.Complete)
        {
            status = ParseFields(input, limits);
        }

        if (status == ParseStatus.Incomplete)
        {
            return ParsedRequest.Incomplete;
        }

        if (status == ParseStatus.Complete)
        {
            status = Finish();
        }

        // The next call starts a new request: the state is cleared then, so that the result can be built from it.
        _phase = Phase.Done;
        return status == ParseStatus.Complete
            ? new ParsedRequest(_headLength, _line.Method, _line.IsPixel, _line.PathStart, _line.PathLength, _line.QueryStart, _line.QueryLength, _keepAlive, _line.IsHttp10, _fields.ContentLength, in _fields.Captured)
            : ParsedRequest.Error(_rejection);
    }

    /// <summary>Reads up to the end of the request line: Complete here means only "go on with the fields".</summary>
    private ParseStatus ParseRequestLine(ReadOnlySpan<byte> input, in HttpLimits limits)
    {
        // ---- Request line (RFC 9112 §3) ----
        // The CR that ends the line must sit before offset limit-1 so that its LF still fits in the limit.
        // Clamped so that a default(HttpLimits) cannot make us slice out of range.
        int lineBudget = Math.Max(limits.MaxRequestLineBytes - 1, 0);
        int lineEnd = Math.Min(input.Length, lineBudget);
        bool lineBudgetSpent = input.Length >= lineBudget;

        if (_phase == Phase.EmptyLines)
        {
            // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line. We ignore any
            // number, but they count towards MaxRequestLineBytes so that a stream of CRLFs cannot be buffered forever.
            while (_scanned < lineEnd && input[_scanned] == CR)
            {
                if (EndsLine(input, _scanned, RequestRejection.InvalidRequestLine) is var pending and not ParseStatus.Complete)
                {
                    return pending;
                }

                _scanned += 2;
            }

            if (_scanned >= lineEnd)
            {
                return lineBudgetSpent ? Reject(RequestRejection.RequestLineTooLong) : ParseStatus.Incomplete;
            }

            _phase = Phase.Method;
            _lineStart = _scanned;
        }

        while (_phase != Phase.RequestLineLf)
        {
            int stop = _scanned < lineEnd ? input[_scanned..lineEnd].IndexOfAny(s_requestLineStop) : -1;
            if (stop < 0)
            {
                // No end of this part yet: check what has arrived so garbage is refused now rather than after 8 KiB.
                RequestRejection partial = CheckPart(input[_lineStart..lineEnd], complete: false);
                if (partial != RequestRejection.None)
                {
                    return Reject(partial);
                }

                _scanned = Math.Max(_scanned, lineEnd);
                return lineBudgetSpent ? Reject(RequestRejection.RequestLineTooLong) : ParseStatus.Incomplete;
            }

            int end = _scanned + stop;
            byte b = input[end];

            // A bare LF, NUL, HTAB or any other control in the line: 400. RFC 9112 §2.2 lets a recipient accept a bare
            // LF as a line end; we do not, since parsers that disagree on line ends are how requests get smuggled.
            // A doubled SP, or an SP after the version, or a CR before it, is as bad.
            if ((b != SP && b != CR) || (b == SP) == (_phase == Phase.Version))
            {
                return Reject(RequestRejection.InvalidRequestLine);
            }

            // The part's content is judged before the LF is checked, so "HTTP/2.0\r" already answers 505.
            RequestRejection rejection = CheckPart(input[_lineStart..end], complete: true);
            if (rejection != RequestRejection.None)
            {
                return Reject(rejection);
            }

            _phase++;
            _lineStart = _scanned = end + 1;
            _authorityEnded = false;
        }

        // _scanned is one past the CR.
        if (EndsLine(input, _scanned - 1, RequestRejection.InvalidRequestLine) is var crlf and not ParseStatus.Complete)
        {
            return crlf;
        }

        _phase = Phase.FieldLine;
        _headersStart = _lineStart = _scanned = _scanned + 1;
        return ParseStatus.Complete;
    }

    private ParseStatus ParseFields(ReadOnlySpan<byte> input, in HttpLimits limits)
    {
        // ---- Header fields (RFC 9112 §5) ----
        int headerBudget = Math.Max(limits.MaxHeaderBytes - 1, 0);
        int available = input.Length - _headersStart;
        int headersEnd = _headersStart + Math.Min(available, headerBudget);
        bool headerBudgetSpent = available >= headerBudget;
        ParseStatus pending;
        while (true)
        {
            switch (_phase)
            {
                case Phase.HeadLf:
                    _headLength = _lineStart + 2;
                    return EndsLine(input, _lineStart, RequestRejection.InvalidHeaderLine);

                case Phase.FieldLineLf:
                    pending = EndsLine(input, _scanned, RequestRejection.InvalidHeaderLine);
                    if (pending != ParseStatus.Complete)
                    {
                        return pending;
                    }

                    _phase = Phase.FieldLine;
                    _lineStart = _scanned = _scanned + 2;
                    _fieldNameEnded = false;
                    continue;
            }

            int p = _lineStart;
            if (_scanned == p)
            {
                if (p >= headersEnd)
                {
                    return headerBudgetSpent ? Reject(RequestRejection.HeadersTooLarge) : ParseStatus.Incomplete;
                }

                byte first = input[p];
                if (first == CR)
                {
                    _phase = Phase.HeadLf;
                    continue;
                }

                // A line starting with SP/HTAB is obs-fold (RFC 9112 §5.2; or whitespace after the start line, §2.2):
                // rejected. So is a bare LF or a line with an empty name.
                if (!s_tchar.Contains(first))
                {
                    return Reject(RequestRejection.InvalidHeaderLine);
                }

                if (_count >= limits.MaxHeaderCount)
                {
                    return Reject(RequestRejection.HeadersTooLarge);
                }
            }

            ReadOnlySpan<byte> window = _scanned < headersEnd ? input[_scanned..headersEnd] : default;
            int stop = window.IndexOfAny(s_fieldLineStop);
            if (stop < 0)
            {
                // Unfinished line: its name so far must be a token; the value cannot be judged until it ends.
                if (!_fieldNameEnded)
                {
                    int nameEnd = window.IndexOfAnyExcept(s_tchar);
                    if (nameEnd >= 0 && window[nameEnd] != (byte)':')
                    {
                        return Reject(RequestRejection.InvalidHeaderLine);
                    }

                    _fieldNameEnded = nameEnd >= 0;
                }

                _scanned = Math.Max(_scanned, headersEnd);
                return headerBudgetSpent ? Reject(RequestRejection.HeadersTooLarge) : ParseStatus.Incomplete;
            }

            int cr = _scanned + stop;
            if (input[cr] != CR)
            {
                return Reject(RequestRejection.InvalidHeaderLine);
            }

            RequestRejection rejection = ParseField(input[p..cr], p, limits, ref _fields);
            if (rejection != RequestRejection.None)
            {
                return Reject(rejection);
            }

            _count++;
            _phase = Phase.FieldLineLf;
            _scanned = cr;
        }
    }

    /// <summary>
    /// The CR at <paramref name="cr"/> must be followed by LF: Complete when it is, Incomplete when the LF has not
    /// arrived, else the error <paramref name="rejection"/>.
    /// </summary>
    private ParseStatus EndsLine(ReadOnlySpan<byte> input, int cr, RequestRejection rejection) =>
        cr + 1 >= input.Length ? ParseStatus.Incomplete
        : input[cr + 1] == LF ? ParseStatus.Complete
        : Reject(rejection);

    private ParseStatus Reject(RequestRejection rejection)
    {
        _rejection = rejection;
        return ParseStatus.Error;
    }

    /// <summary>
    /// Checks the request line's current part (method, target or version) as far as it has arrived. When
    /// <paramref name="complete"/> is false it passes if it can still grow into a valid one.
    /// </summary>
    private RequestRejection CheckPart(ReadOnlySpan<byte> part, bool complete)
    {
        switch (_phase)
        {
            case Phase.Method:
                // method = token, case-sensitive (RFC 9110 §9.1): "get" is some other method. Bytes before _scanned
                // were checked by an earlier call.
                int checkedLength = _scanned - _lineStart;
                if (part[checkedLength..].IndexOfAnyExcept(s_tchar) >= 0 || (complete && part.IsEmpty))
                {
                    return RequestRejection.InvalidRequestLine;
                }

                if (complete)
                {
                    _line.Method = part.SequenceEqual("GET"u8) ? RequestMethod.Get
                        : part.SequenceEqual("HEAD"u8) ? RequestMethod.Head
                        : RequestMethod.Other;
                }

                return RequestRejection.None;

            case Phase.Target:
                // Exactly one SP between the parts: an empty target means a doubled SP.
                if (complete && part.IsEmpty)
                {
                    return RequestRejection.InvalidRequestLine;
                }

                return ParseTarget(part, _lineStart, complete);

            default:
                return ParseVersion(part, complete, ref _line);
        }
    }

    private RequestRejection ParseTarget(ReadOnlySpan<byte> target, int targetStart, bool complete)
    {
        if (target.IsEmpty)
        {
            return RequestRejection.None;
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
                return RequestRejection.InvalidRequestLine;
            }

            if (schemeLength == 0)
            {
                return complete ? RequestRejection.InvalidRequestLine : RequestRejection.None;
            }

            // Until the authority has ended, only the bytes that arrived since the last call need checking.
            int from = complete ? schemeLength : Math.Max(schemeLength, _scanned - targetStart);
            if (!complete && _authorityEnded)
            {
                return RequestRejection.None;
            }

            ReadOnlySpan<byte> rest = target[from..];
            int authorityEnd = rest.IndexOfAny((byte)'/', (byte)'?', (byte)'#');
            ReadOnlySpan<byte> authority = authorityEnd < 0 ? rest : rest[..authorityEnd];
            if (authority.IndexOfAnyExcept(s_hostBytes) >= 0)
            {
                return RequestRejection.InvalidRequestLine;
            }

            int authorityLength = authorityEnd < 0 ? target.Length - schemeLength : from + authorityEnd - schemeLength;
            if (authorityEnd < 0)
            {
                // "http://host": path "/", no query. An http(s) URI with an empty host is invalid (RFC 9110 §4.2.1).
                return complete && authorityLength == 0 ? RequestRejection.InvalidRequestLine : RequestRejection.None;
            }

            if (authorityLength == 0)
            {
                return RequestRejection.InvalidRequestLine;
            }

            _authorityEnded = true;
            originStart = schemeLength + authorityLength;
        }

        if (!complete)
        {
            return RequestRejection.None;
        }

        // The path ends at the first '?' or '#'. A fragment is not part of a request-target (RFC 9112 §3.2.1) but
        // browsers have been seen to leak one; we tolerate it and drop it: "/pixel.gif#x" is the pixel, no query.
        ReadOnlySpan<byte> origin = target[originStart..];
        int pathLength = origin.IndexOfAny((byte)'?', (byte)'#');
        ReadOnlySpan<byte> path = pathLength < 0 ? origin : origin[..pathLength];
        _line.IsPixel = path.SequenceEqual(PixelPath);
        _line.PathStart = targetStart + originStart;
        _line.PathLength = path.Length;
        if (pathLength >= 0 && origin[pathLength] == (byte)'?')
        {
            ReadOnlySpan<byte> query = origin[(pathLength + 1)..];
            int fragment = query.IndexOf((byte)'#');
            _line.QueryStart = targetStart + originStart + pathLength + 1;
            _line.QueryLength = fragment < 0 ? query.Length : fragment;
        }

        return RequestRejection.None;
    }

    /// <summary>Judges the head as a whole once its last line has arrived.</summary>
    private ParseStatus Finish()
    {
        ref readonly RequestLine line = ref _line;
        ref readonly FieldState fields = ref _fields;
        // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (duplicates were refused as they arrived).
        if (!line.IsHttp10 && fields.HostCount == 0)
        {
            return Reject(RequestRejection.InvalidHost);
        }

        if (fields.HasTransferEncoding)
        {
            // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing (400). In 1.1 it is a
            // coding we do not decode (we never read chunked bodies): 501, RFC 9112 §6.1 / RFC 9110 §15.6.2.
            // (Transfer-Encoding together with Content-Length was already refused.)
            return Reject(line.IsHttp10 ? RequestRejection.InvalidFraming : RequestRejection.TransferCodingNotSupported);
        }

        // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 persists only with "keep-alive". "close" wins over both.
        _keepAlive = !fields.ConnectionClose && (!line.IsHttp10 || fields.ConnectionKeepAlive);
        return ParseStatus.Complete;
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

    private static RequestRejection ParseVersion(ReadOnlySpan<byte> version, bool complete, ref RequestLine line)
    {
        // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3). A well-formed version we do not
        // speak is 505; anything else, including trailing bytes, is 400. An unfinished line passes while it can
        // still become "HTTP/d.d"; 505 versus 400 is decided only when the line ends.
        ReadOnlySpan<byte> pattern = "HTTP/0.0"u8;
        if (version.Length > pattern.Length)
        {
            return RequestRejection.InvalidRequestLine;
        }

        for (int i = 0; i < version.Length; i++)
        {
            bool ok = i is 5 or 7 ? char.IsAsciiDigit((char)version[i]) : version[i] == pattern[i];
            if (!ok)
            {
                return RequestRejection.InvalidRequestLine;
            }
        }

        if (!complete)
        {
            return RequestRejection.None;
        }

        if (version.Length != pattern.Length)
        {
            return RequestRejection.InvalidRequestLine;
        }

        if (version[5] != (byte)'1' || version[7] is not ((byte)'0' or (byte)'1'))
        {
            return RequestRejection.VersionNotSupported;
        }

        line.IsHttp10 = version[7] == (byte)'0';
        return RequestRejection.None;
    }

    /// <summary>
    /// Checks one complete field line (RFC 9112 §5) and interprets the four fields we care about. Another field whose
    /// value the application wants is one more case here, keeping the value's offset and length in
    /// <see cref="FieldState"/> (the head stays in the caller's buffer until the request is complete).
    /// </summary>
    private static RequestRejection ParseField(ReadOnlySpan<byte> span, int lineStart, in HttpLimits limits, ref FieldState fields)
    {
        // field-name ":" OWS field-value OWS. No whitespace between name and colon (RFC 9112 §5.1: MUST 400).
        // The caller has already refused controls, so the value holds only HTAB, SP, VCHAR and obs-text.
        int colon = span.IndexOfAnyExcept(s_tchar);
        if (colon <= 0 || span[colon] != (byte)':')
        {
            return RequestRejection.InvalidHeaderLine;
        }

        ReadOnlySpan<byte> name = span[..colon];
        ReadOnlySpan<byte> value = span[(colon + 1)..].Trim(Ows);
        switch (name.Length)
        {
            case 4 when Ascii.EqualsIgnoreCase(name, "Host"u8):
                // RFC 9112 §3.2: more than one Host, or an invalid one, is a 400. An empty Host is allowed.
                fields.HostCount++;
                return fields.HostCount > 1 || value.IndexOfAnyExcept(s_hostBytes) >= 0 ? RequestRejection.InvalidHost : RequestRejection.None;

            case 10 when Ascii.EqualsIgnoreCase(name, "Connection"u8):
                ParseConnection(value, ref fields);
                return RequestRejection.None;

            case 14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8):
                return ParseContentLength(value, limits.MaxBodyBytes, ref fields);

            case 17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8):
                // With Content-Length it is the classic smuggling pair: RFC 9112 §6.3 lets a server refuse it, and
                // we do (400) rather than guess which framing an upstream proxy used.
                fields.HasTransferEncoding = true;
                return fields.HasContentLength ? RequestRejection.InvalidFraming : RequestRejection.None;

            default:
                if (limits.Capture != HeaderFields.None)
                {
                    Capture(span, colon, lineStart, limits.Capture, ref fields);
                }

                return RequestRejection.None;
        }
    }

    /// <summary>Records where the value of a field the filters asked for lies (the last line wins for a repeated field).</summary>
    private static void Capture(ReadOnlySpan<byte> span, int colon, int lineStart, HeaderFields wanted, ref FieldState fields)
    {
        ReadOnlySpan<byte> name = span[..colon];
        HeaderFields field = name.Length switch
        {
            5 when Ascii.EqualsIgnoreCase(name, "X-Moz"u8) => HeaderFields.XMoz,
            7 when Ascii.EqualsIgnoreCase(name, "Referer"u8) => HeaderFields.Referer,
            7 when Ascii.EqualsIgnoreCase(name, "Purpose"u8) => HeaderFields.Purpose,
            9 when Ascii.EqualsIgnoreCase(name, "Forwarded"u8) => HeaderFields.Forwarded,
            9 when Ascii.EqualsIgnoreCase(name, "X-Purpose"u8) => HeaderFields.XPurpose,
            10 when Ascii.EqualsIgnoreCase(name, "User-Agent"u8) => HeaderFields.UserAgent,
            11 when Ascii.EqualsIgnoreCase(name, "Sec-Purpose"u8) => HeaderFields.SecPurpose,
            15 when Ascii.EqualsIgnoreCase(name, "X-Forwarded-For"u8) => HeaderFields.XForwardedFor,
            _ => HeaderFields.None,
        };
        if ((field & wanted) == 0)
        {
            return;
        }

        ReadOnlySpan<byte> raw = span[(colon + 1)..];
        int start = colon + 1 + (raw.Length - raw.TrimStart(Ows).Length);
        int length = raw.Trim(Ows).Length;
        fields.Captured[ParsedRequest.Index(field)] = new Range(lineStart + start, lineStart + start + length);
    }

    private static RequestRejection ParseContentLength(ReadOnlySpan<byte> value, int maxBodyBytes, ref FieldState fields)
    {
        // Strict: exactly one Content-Length line holding 1*DIGIT (RFC 9112 §6.3 item 5 allows accepting a list of
        // equal values; we do not, since intermediaries disagree on such lists). With Transfer-Encoding: 400.
        if (fields.HasContentLength || fields.HasTransferEncoding || value.IsEmpty)
        {
            return RequestRejection.InvalidFraming;
        }

        fields.HasContentLength = true;
        if (!AsciiDigits.TryParseDecimal(value, out long length))
        {
            return RequestRejection.InvalidFraming;
        }

        fields.ContentLength = length;
        return length > maxBodyBytes ? RequestRejection.BodyTooLarge : RequestRejection.None;
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
        public CapturedValues Captured;
    }
}
