using System.Runtime.CompilerServices;

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
/// Where each captured field's value (without surrounding whitespace) sits in the parsed input, indexed by the
/// field's bit number. A field seen more than once keeps its last line. <c>default(Range)</c> means absent: no value
/// can start at offset 0, where the request line is.
/// </summary>
[InlineArray(8)]
internal struct CapturedValues
{
    private Range _element;
}
