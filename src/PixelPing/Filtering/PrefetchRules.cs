using System.Text;

namespace PixelPing.Filtering;

/// <summary>
/// Recognises a speculative fetch: one a browser makes in case the user opens something, which nobody may ever see.
/// <list type="bullet">
/// <item><c>Sec-Purpose: prefetch</c>, also with parameters such as <c>;anonymous-client-ip</c> (Chrome and Firefox
/// <c>&lt;link rel="prefetch"&gt;</c>, speculation rules); <c>Purpose: prefetch</c> (older Chrome, Safari).</item>
/// <item><c>X-Purpose: preview</c> (Safari's Top Sites thumbnails), <c>X-Moz: prefetch</c> (older Firefox).</item>
/// </list>
/// <c>Sec-Purpose: prefetch;prerender</c> is NOT a prefetch here: a prerendered page that the user then opens does
/// not load the pixel again, so ignoring it would lose every view that came through a prerender. Chrome prerenders
/// only on a strong signal (typed URL prediction, speculation rules), so the few prerenders never shown are counted
/// as views; docs/filtering.md says so.
/// </summary>
internal static class PrefetchRules
{
    public static bool IsPrefetch(ReadOnlySpan<byte> secPurpose, ReadOnlySpan<byte> purpose, ReadOnlySpan<byte> xPurpose, ReadOnlySpan<byte> xMoz) =>
        ListHasPrefetch(secPurpose)
        || ListHasPrefetch(purpose)
        || Ascii.EqualsIgnoreCase(Trim(xPurpose), "preview"u8)
        || Ascii.EqualsIgnoreCase(Trim(xMoz), "prefetch"u8);

    /// <summary>
    /// The value is a structured-field list (RFC 8941 §3.1) of tokens with parameters: true when a member is the
    /// token <c>prefetch</c> without a <c>prerender</c> parameter. Read leniently (case-insensitive, spaces
    /// allowed): anything else, malformed included, is not a prefetch.
    /// </summary>
    private static bool ListHasPrefetch(ReadOnlySpan<byte> value)
    {
        while (!value.IsEmpty)
        {
            int comma = value.IndexOf((byte)',');
            ReadOnlySpan<byte> member = comma < 0 ? value : value[..comma];
            value = comma < 0 ? [] : value[(comma + 1)..];
            int semicolon = member.IndexOf((byte)';');
            ReadOnlySpan<byte> item = Trim(semicolon < 0 ? member : member[..semicolon]);
            if (!Ascii.EqualsIgnoreCase(item, "prefetch"u8))
            {
                continue;
            }

            if (semicolon < 0 || !HasParameter(member[(semicolon + 1)..], "prerender"u8))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasParameter(ReadOnlySpan<byte> parameters, ReadOnlySpan<byte> name)
    {
        while (true)
        {
            int semicolon = parameters.IndexOf((byte)';');
            ReadOnlySpan<byte> parameter = semicolon < 0 ? parameters : parameters[..semicolon];
            int equals = parameter.IndexOf((byte)'=');
            if (Ascii.EqualsIgnoreCase(Trim(equals < 0 ? parameter : parameter[..equals]), name))
            {
                return true;
            }

            if (semicolon < 0)
            {
                return false;
            }

            parameters = parameters[(semicolon + 1)..];
        }
    }

    private static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> value) => value.Trim(" \t"u8);
}
