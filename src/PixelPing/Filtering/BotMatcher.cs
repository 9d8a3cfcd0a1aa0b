using System.Buffers;
using System.Text;

namespace PixelPing.Filtering;

/// <summary>
/// Decides whether a User-Agent names a crawler, a link-preview fetcher, a monitor or an HTTP library: one
/// case-insensitive multi-string search (<see cref="SearchValues{T}"/>, vectorised) over a built-in token list, no
/// regular expression. The list is maintained here with its fixtures (tests/PixelPing.Tests/Vectors/user-agents.tsv:
/// every crawler there must match, no browser may). User agents are the client's word: this stops honest robots only.
/// </summary>
internal static class BotMatcher
{
    // Longer User-Agents are searched in a pooled buffer; real ones are 100-300 bytes.
    private const int StackChars = 512;

    // Lower case; matching ignores case. A token must never occur in a browser's User-Agent, so there is no bare "bot"
    // (Cubot and Robot are phone names) and no "yandex" (Yandex Browser says YaBrowser, its crawlers say YandexBot...).
    private static readonly string[] s_tokens =
    [
        // Generic crawler marks: "Somebot/1.0", "(compatible; SomeBot; +https://example.com/bot.html)".
        // No "bot-", "bot_" or "bot " either: phone models are written "CUBOT_X30" and "CUBOT P30" too.
        "bot/", "bot;", "bot)", "bot.htm", "+http", "spider", "crawler", "crawling", "scraper", "archiver", "headless",
        "phantomjs", "slimerjs", "prerender", "lighthouse", "jsdom",

        // Crawlers that also appear without a version slash ("Googlebot-Image/1.0", "Slackbot-LinkExpanding 1.0").
        "googlebot", "adsbot-google", "storebot-google", "bingbot", "msnbot", "adidxbot", "slackbot", "duckduckbot",
        "duckassistbot", "applebot", "yandexbot", "yandexmobilebot", "twitterbot", "linkedinbot", "discordbot",
        "redditbot", "pinterestbot", "petalbot", "semrushbot", "ahrefsbot", "mj12bot", "dotbot", "gptbot",
        "oai-searchbot", "ccbot", "claudebot", "amazonbot", "seznambot", "exabot", "dataforseobot", "blexbot",
        "mail.ru_bot", "coccocbot", "mojeekbot", "uptimerobot", "pingdom",

        // Search engines, AI crawlers and link-preview fetchers whose names do not end in "bot" the usual way.
        "slurp", "mediapartners-google", "google-inspectiontool", "googleother", "google-extended", "google-safety",
        "google-read-aloud", "google-site-verification", "google web preview", "google-pagerenderer", "apis-google",
        "feedfetcher", "googlehc", "bingpreview", "yandeximages", "yandexmetrika", "yandexfavicons", "yandexwebmaster",
        "qwantify", "ia_archiver", "facebookexternalhit", "facebookcatalog", "meta-externalagent",
        "meta-externalfetcher", "whatsapp/", "telegrambot", "skypeuripreview", "link preview", "url preview",
        "linkpreview", "embedly", "iframely", "vkshare", "cardyb", "chatgpt-user", "anthropic-ai", "claude-web",
        "claude-user", "perplexity-user", "cohere-ai", "yeti/", "barkrowler", "seokicks", "sitebulb", "proximic",
        "turnitin", "pinterest/0.", "google favicon", "flipboardproxy", "nuzzel", "outbrain", "zoominfo", "snap url preview",

        // Feed readers, uptime monitors, health checks and scanners.
        "feedly", "inoreader", "newsblur", "feedbin", "freshrss", "tiny tiny rss", "feedparser",
        "statuscake", "site24x7", "betteruptime", "better uptime", "datadog", "newrelicpinger", "stackdrivermonitoring",
        "checkly", "gtmetrix", "ptst/", "zabbix", "nagios", "check_http", "prometheus/", "blackbox exporter",
        "kube-probe", "healthcheck", "health check", "censysinspect", "palo alto networks", "zgrab", "masscan",
        "nmap scripting", "nuclei", "internetmeasurement", "l9explore", "nessus", "netcraft",

        // HTTP libraries and command-line clients.
        "python-requests", "python-urllib", "python-httpx", "python/", "aiohttp", "httpx", "go-http-client", "okhttp",
        "java/", "java-http-client", "apache-httpclient", "httpclient", "libwww-perl", "lwp-", "wget", "curl/", "libcurl",
        "pycurl", "axios/", "node-fetch", "undici", "sindresorhus/got", "scrapy", "colly", "nutch", "ruby", "faraday",
        "http.rb/", "postmanruntime", "insomnia/", "httpie", "guzzlehttp", "winhttp", "restsharp", "deno/", "dart:io",
        "mechanize", "wordpress/", "cypress/", "reqwest", "hackney", "electron-fetch", "powershell",
    ];

    private static readonly SearchValues<string> s_search = SearchValues.Create(s_tokens, StringComparison.OrdinalIgnoreCase);

    /// <summary>True when the value contains one of the tokens. An empty or missing User-Agent is not a bot by this rule.</summary>
    public static bool IsBot(ReadOnlySpan<byte> userAgent)
    {
        if (userAgent.IsEmpty)
        {
            return false;
        }

        // Header bytes are ASCII or obs-text; widening them one to one (Latin-1) keeps every ASCII token findable and
        // cannot fail on bytes that are not UTF-8.
        char[]? rented = null;
        Span<char> chars = userAgent.Length <= StackChars
            ? stackalloc char[StackChars]
            : (rented = ArrayPool<char>.Shared.Rent(userAgent.Length));
        try
        {
            int n = Encoding.Latin1.GetChars(userAgent, chars);
            return chars[..n].ContainsAny(s_search);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }
}
