using PixelPing.Config;
using PixelPing.Http;

namespace PixelPing.Filtering;

/// <summary>
/// The filters in force, asked once per pixel hit with a key: count it, or the reason to ignore it. Built only when at
/// least one filter is on (otherwise there is no filter object and no header is captured), and immutable apart from
/// the per-client table. An ignored hit still gets its pixel: the answer never tells a client what the rules are.
/// </summary>
internal sealed class HitFilter
{
    private readonly bool _ignoreBots;
    private readonly bool _ignorePrefetch;
    private readonly ReferrerHosts? _referrers;
    private readonly bool _requireReferrer;
    private readonly KeyPattern[]? _keys;
    private readonly AddressRange[]? _ignoreAddresses;
    private readonly AddressRange[]? _trustedProxies;
    private readonly ClientCap? _cap;

    public HitFilter(bool ignoreBots, bool ignorePrefetch, ReferrerHosts? referrers, bool requireReferrer, KeyPattern[]? keys,
        AddressRange[]? ignoreAddresses, AddressRange[]? trustedProxies, ClientCap? cap)
    {
        _ignoreBots = ignoreBots;
        _ignorePrefetch = ignorePrefetch;
        _referrers = referrers;
        _requireReferrer = requireReferrer;
        _keys = keys;
        _ignoreAddresses = ignoreAddresses;
        _trustedProxies = trustedProxies;
        _cap = cap;

        HeaderFields wanted = HeaderFields.None;
        if (ignoreBots)
        {
            wanted |= HeaderFields.UserAgent;
        }

        if (ignorePrefetch)
        {
            wanted |= HeaderFields.SecPurpose | HeaderFields.Purpose | HeaderFields.XPurpose | HeaderFields.XMoz;
        }

        if (referrers is not null || requireReferrer)
        {
            wanted |= HeaderFields.Referer;
        }

        if (trustedProxies is not null && (ignoreAddresses is not null || cap is not null))
        {
            wanted |= HeaderFields.XForwardedFor | HeaderFields.Forwarded;
        }

        Wanted = wanted;
    }

    /// <summary>
    /// The filters a validated config asks for, or null when it asks for none (then nothing is captured or checked).
    /// The per-client table holds at most <c>maxkeys</c> (client, key) pairs.
    /// </summary>
    public static HitFilter? From(Settings settings)
    {
        if (!settings.IgnoreBots && !settings.IgnorePrefetch && settings.Referrers.Count == 0 && !settings.RequireReferrer
            && settings.Keys.Count == 0 && settings.IgnoreAddresses.Count == 0 && settings.MaxHitsPerClient == 0)
        {
            // trustedproxies alone changes nothing: the client address is only read by the two filters above.
            return null;
        }

        return new HitFilter(
            settings.IgnoreBots,
            settings.IgnorePrefetch,
            settings.Referrers.Count == 0 ? null : ReferrerHosts.Create(settings.Referrers),
            settings.RequireReferrer,
            settings.Keys.Count == 0 ? null : [.. settings.Keys.Select(pattern => new KeyPattern(pattern))],
            Ranges(settings.IgnoreAddresses),
            Ranges(settings.TrustedProxies),
            settings.MaxHitsPerClient == 0 ? null : new ClientCap(settings.MaxHitsPerClient, settings.MaxKeys, SipHash.WithRandomKey()));
    }

    // The reader accepted every entry with the same parser, so none fails here.
    private static AddressRange[]? Ranges(IReadOnlyList<string> texts) => texts.Count == 0
        ? null
        : [.. texts.Select(text => AddressRange.TryParse(text, out AddressRange range, out string error) ? range : throw new ArgumentException(error))];

    /// <summary>The header values the parser must record for these filters.</summary>
    public HeaderFields Wanted { get; }

    /// <summary>
    /// Decides one hit. <paramref name="input"/> is the span the request was parsed from, <paramref name="peer"/> the
    /// connection's remote address (<see cref="NetAddress"/>), <paramref name="key"/> the decoded key,
    /// <paramref name="window"/> the store's window (<see cref="ClientCap"/>).
    /// <paramref name="unchecked"/> is set when the per-client table was full and the hit is counted without a cap.
    /// </summary>
    public IgnoreReason Check(ReadOnlySpan<byte> input, in ParsedRequest request, UInt128 peer, ReadOnlySpan<byte> key, long window, out bool @unchecked)
    {
        @unchecked = false;
        if (_ignoreBots && BotMatcher.IsBot(request.Value(input, HeaderFields.UserAgent)))
        {
            return IgnoreReason.Bot;
        }

        if (_ignorePrefetch && PrefetchRules.IsPrefetch(
                request.Value(input, HeaderFields.SecPurpose),
                request.Value(input, HeaderFields.Purpose),
                request.Value(input, HeaderFields.XPurpose),
                request.Value(input, HeaderFields.XMoz)))
        {
            return IgnoreReason.Prefetch;
        }

        if (_referrers is not null || _requireReferrer)
        {
            // An empty Referer is as good as none: privacy settings and Referrer-Policy strip it (RFC 9110 §10.1.3).
            ReadOnlySpan<byte> referer = request.Value(input, HeaderFields.Referer);
            if (referer.IsEmpty ? _requireReferrer : _referrers is not null && !_referrers.Allows(referer))
            {
                return IgnoreReason.Referrer;
            }
        }

        if (_keys is not null && !KeyPattern.AnyMatches(_keys, key))
        {
            return IgnoreReason.Key;
        }

        if (_ignoreAddresses is null && _cap is null)
        {
            return IgnoreReason.None;
        }

        UInt128 client = _trustedProxies is null
            ? peer
            : ProxyHeaders.ClientAddress(
                peer,
                _trustedProxies,
                request.Value(input, HeaderFields.XForwardedFor),
                request.Has(HeaderFields.XForwardedFor),
                request.Value(input, HeaderFields.Forwarded),
                request.Has(HeaderFields.Forwarded));
        if (_ignoreAddresses is not null && AddressRange.AnyContains(_ignoreAddresses, client))
        {
            return IgnoreReason.Address;
        }

        if (_cap is not null)
        {
            switch (_cap.Admit(client, key, window))
            {
                case CapResult.OverCap:
                    return IgnoreReason.PerClient;
                case CapResult.TableFull:
                    @unchecked = true;
                    break;
            }
        }

        return IgnoreReason.None;
    }
}
