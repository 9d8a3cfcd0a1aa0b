using System.Text;
using PixelPing.Filtering;

namespace PixelPing.Tests.Filtering;

public sealed class PrefetchRulesTests
{
    [Theory]
    [InlineData("prefetch", true)]
    [InlineData("Prefetch", true)]
    [InlineData("prefetch;anonymous-client-ip", true)]
    [InlineData(" prefetch ; anonymous-client-ip ", true)]
    [InlineData("prefetch;prerender", false)]
    [InlineData("prefetch; prerender", false)]
    [InlineData("prefetch;prerender=?1", false)]
    [InlineData("prerender", false)]
    [InlineData("other, prefetch", true)]
    [InlineData("prefetch;prerender, prefetch", true)]
    [InlineData("prefetchx", false)]
    [InlineData("", false)]
    [InlineData(";;,,", false)]
    public void Sec_purpose(string value, bool expected)
    {
        Assert.Equal(expected, PrefetchRules.IsPrefetch(Encoding.ASCII.GetBytes(value), [], [], []));
        // Purpose, the older name, is read the same way.
        Assert.Equal(expected, PrefetchRules.IsPrefetch([], Encoding.ASCII.GetBytes(value), [], []));
    }

    [Theory]
    [InlineData("preview", "", true)]
    [InlineData("Preview", "", true)]
    [InlineData("instant", "", false)]
    [InlineData("", "prefetch", true)]
    [InlineData("", " PREFETCH ", true)]
    [InlineData("", "link", false)]
    public void X_purpose_and_x_moz(string xPurpose, string xMoz, bool expected) =>
        Assert.Equal(expected, PrefetchRules.IsPrefetch([], [], Encoding.ASCII.GetBytes(xPurpose), Encoding.ASCII.GetBytes(xMoz)));
}
