using System.Net;
using System.Text;

namespace PixelPing.Config;

/// <summary>
/// How an endpoint URL appears in messages (the start line, <c>--check</c>, a config error): never a password, and no
/// query value — endpoints often carry an API token there (<c>?token=…&amp;site=…</c>) — with what is left escaped for a
/// log line. A PostgreSQL URI keeps its user name (a role, and a user information without a colon is one) and its
/// parameters, which say how it connects (<c>sslmode=verify-full</c>), and loses only its password, in the user
/// information or as a parameter (<c>?password=…</c>). Works on the text as written, so a URL that does not even
/// parse is shown just as safely.
/// </summary>
internal static class EndpointText
{
    private const string Masked = "…";

    public static string Show(string url) => LogEscape.Text(Redact(url));

    /// <summary>The URL with its user information and query values masked, not yet escaped.</summary>
    public static string Redact(string url)
    {
        var text = new StringBuilder(url.Length + 8);
        int authority = url.IndexOf("://", StringComparison.Ordinal);
        // Not Redis: there a user information without a colon is the password written without its leading colon.
        bool database = authority > 0 && url.AsSpan(0, authority) is "postgresql" or "postgres";
        authority = authority < 0 ? 0 : authority + 3;
        int authorityEnd = url.AsSpan(authority).IndexOfAny('/', '?', '#');
        authorityEnd = authorityEnd < 0 ? url.Length : authority + authorityEnd;
        int at = url.AsSpan(authority, authorityEnd - authority).LastIndexOf('@');
        if (at >= 0 && database)
        {
            // A PostgreSQL user name is a role, not a token: shown, and the password after it masked.
            int colon = url.AsSpan(authority, at).IndexOf(':');
            text.Append(url, 0, colon < 0 ? authority + at : authority + colon + 1).Append(colon < 0 ? "" : Masked)
                .Append(url, authority + at, authorityEnd - authority - at);
        }
        else if (at >= 0)
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
                // PostgreSQL's parameters are shown, all but a password (libpq takes password= and sslpassword=).
                bool shown = database && equals > 0 && !pair.AsSpan(0, equals).Contains("password", StringComparison.OrdinalIgnoreCase);
                text.Append(shown ? pair
                    : equals < 0 ? (pair.Length == 0 ? "" : Masked)
                    : pair[..(equals + 1)] + (equals == pair.Length - 1 ? "" : Masked));
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
