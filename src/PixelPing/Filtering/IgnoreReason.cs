namespace PixelPing.Filtering;

/// <summary>
/// Why a hit was not counted, in the order the filters are tried (the first that applies is the reason given) and
/// the order of the flush's <c>--- ignored</c> line. <see cref="None"/>: count it.
/// </summary>
internal enum IgnoreReason : byte
{
    None,
    Bot,
    Prefetch,
    Referrer,
    Key,
    Address,
    PerClient,
}
