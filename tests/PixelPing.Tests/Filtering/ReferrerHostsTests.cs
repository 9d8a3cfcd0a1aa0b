using System.Text;
using PixelPing.Filtering;

namespace PixelPing.Tests.Filtering;

public sealed class ReferrerHostsTests
{
    private static readonly ReferrerHosts s_list = ReferrerHosts.Create(["example.org", "*.example.com", "Intranet.Local."]);

    [Theory]
    [InlineData("https://example.org/", true)]
    [InlineData("https://example.org", true)]
    [InlineData("http://EXAMPLE.ORG:8080/a?b#c", true)]
    [InlineData("https://example.org./page", true)]
    [InlineData("https://user:pw@example.org/", true)]
    [InlineData("https://example.org.evil.test/", false)]
    [InlineData("https://evil.test/?https://example.org/", false)]
    [InlineData("https://evil.test/#@example.org", false)]
    [InlineData("https://example.org@evil.test/", false)]
    [InlineData("https://badexample.org/", false)]
    [InlineData("https://www.example.org/", false)]
    [InlineData("https://www.example.com/news", true)]
    [InlineData("https://a.b.example.com/", true)]
    [InlineData("https://example.com/", false)]
    [InlineData("https://notexample.com/", false)]
    [InlineData("https://intranet.local/x", true)]
    [InlineData("example.org/page", false)]
    [InlineData("/relative/path", false)]
    [InlineData("://example.org/", false)]
    [InlineData("https://[2001:db8::1]/", false)]
    [InlineData("https:///path", false)]
    [InlineData("android-app://com.example.org/", false)]
    public void Allows_only_listed_hosts(string referer, bool expected) =>
        Assert.Equal(expected, s_list.Allows(Encoding.ASCII.GetBytes(referer)));

    [Theory]
    [InlineData("https://example.org", "without scheme or path")]
    [InlineData("example.org/news", "without scheme or path")]
    [InlineData("*", "xn--")]
    [InlineData("*.", "xn--")]
    [InlineData("exa mple.org", "xn--")]
    [InlineData("a..b", "xn--")]
    [InlineData("-a.org", "xn--")]
    [InlineData("b\u00fccher.de", "xn--")]
    [InlineData("", "xn--")]
    [InlineData("*.*.example.com", "xn--")]
    public void Refuses_what_is_not_a_host_pattern(string pattern, string reason)
    {
        Assert.Contains(reason, ReferrerHosts.Problem(pattern), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("example.org")]
    [InlineData("*.example.org")]
    [InlineData("Example.ORG.")]
    [InlineData("xn--bcher-kva.de")]
    [InlineData("localhost")]
    public void Accepts_host_names_and_subdomain_patterns(string pattern) => Assert.Null(ReferrerHosts.Problem(pattern));
}
