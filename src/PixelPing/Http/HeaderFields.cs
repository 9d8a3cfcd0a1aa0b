namespace PixelPing.Http;

/// <summary>
/// Header fields whose values the parser records when asked (<see cref="HttpLimits.Capture"/>): the ones the hit
/// filters read. With none asked for, which is the default, the parser looks at no other field than framing needs.
/// </summary>
[Flags]
internal enum HeaderFields : ushort
{
    None = 0,
    UserAgent = 1 << 0,
    Referer = 1 << 1,
    SecPurpose = 1 << 2,
    Purpose = 1 << 3,
    XPurpose = 1 << 4,
    XMoz = 1 << 5,
    XForwardedFor = 1 << 6,
    Forwarded = 1 << 7,
}

/// <summary>
/// Where each captured field's value (without surrounding whitespace) sits in the parsed input, by the field's bit
/// number. A field seen more than once keeps its last line. <c>default(Range)</c> means absent: no value can start at
/// offset 0, where the request line is. Plain fields rather than an inline array, so that the parse result keeps
/// value equality.
/// </summary>
internal struct CapturedValues
{
    private Range _userAgent;
    private Range _referer;
    private Range _secPurpose;
    private Range _purpose;
    private Range _xPurpose;
    private Range _xMoz;
    private Range _xForwardedFor;
    private Range _forwarded;

    public Range this[int index]
    {
        readonly get => index switch
        {
            0 => _userAgent,
            1 => _referer,
            2 => _secPurpose,
            3 => _purpose,
            4 => _xPurpose,
            5 => _xMoz,
            6 => _xForwardedFor,
            7 => _forwarded,
            _ => default,
        };
        set
        {
            switch (index)
            {
                case 0: _userAgent = value; break;
                case 1: _referer = value; break;
                case 2: _secPurpose = value; break;
                case 3: _purpose = value; break;
                case 4: _xPurpose = value; break;
                case 5: _xMoz = value; break;
                case 6: _xForwardedFor = value; break;
                case 7: _forwarded = value; break;
            }
        }
    }
}
