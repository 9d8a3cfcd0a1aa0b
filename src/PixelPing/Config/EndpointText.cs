using System.Net;
using System.Text;

namespace PixelPing.Config;

/// <summary>
/// How an endpoint URL appears in messages (the start line, <c>--check</c>, a config error): never a password, and no
/// query value — endpoints often carry an API token there (<c>?token=…&amp;site=…</c>) — with what is left escaped for a
/// log line. Works on the text as written, so a URL that does not even parse is shown just as safely.
/// </summary>
internal static class EndpointText
{
    private const string Masked = "…";

    public static string Show(Uri endpoint) => LogEscape.Text(Redact(endpoint.OriginalString));

    /// <summary>The URL with its user information and query values masked, not yet escaped.</summary>
    public static string Redact(string url)
    {
        var text = new StringBuilder(url.Length + 8);
        int authority = url.IndexOf("://", StringComparison.Ordinal);
        authority = authority < 0 ? 0 : authority + 3;
        int authorityEnd = url.AsSpan(authority).IndexOfAny('/', '?', '#');
        authorityEnd = authorityEnd < 0 ? url.Length : authority + authorityEnd;
        int at = url.AsSpan(authority, authorityEnd - authority).LastIndexOf('@');
        if (at >= 0)
        {
            // user:password@host: the user name can be a token as well, so neither is shown.
            text.Append(url, 0, authority).Append(Masked).Append(url, authority + at, authorityEnd - authority - at);
        }
        else
        {
            text.Append(url, 0, authorityEnd);
        }

        int query = url.IndexOf('?', authorityEnd);
        int fragment = url.IndexOf('#', authorityEnd);
        int pathEnd = query >= 0 ? query : fragment >= 0 ? fragment : url.Length;
        text.Append(url, authorityEnd, pathEnd - authorityEnd);
        if (query >= 0)
        {
            int queryEnd = fragment > query ? fragment : url.Length;
            text.Append('?');
            bool first = true;
            foreach (string pair in url[(query + 1)..queryEnd].Split('&'))
            {
                text.Append(first ? "" : "&");
                first = false;
                int equals = pair.IndexOf('=', StringComparison.Ordinal);
                // A name with its value masked; an item without "=" may be a bare token, so it is masked whole.
                text.Append(equals < 0 ? (pair.Length == 0 ? "" : Masked) : pair[..(equals + 1)] + (equals == pair.Length - 1 ? "" : Masked));
            }
        }

        if (fragment >= 0)
        {
            text.Append('#').Append(fragment == url.Length - 1 ? "" : Masked);
        }

        return text.ToString();
    }

    /// <summary>
    /// True when a request to this endpoint stays on this machine: a loopback address or <c>localhost</c>. Anything
    /// else, on plain http, carries the secret and the signed body over a network in clear.
    /// </summary>
    public static bool IsLoopback(Uri endpoint)
    {
        string host = endpoint.IdnHost.Trim('[', ']');
        return IPAddress.TryParse(host, out IPAddress? address)
            ? IPAddress.IsLoopback(address)
            : host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);
    }
}
