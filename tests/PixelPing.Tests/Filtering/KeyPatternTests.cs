using System.Text;
using PixelPing.Filtering;

namespace PixelPing.Tests.Filtering;

public sealed class KeyPatternTests
{
    [Theory]
    [InlineData("document:42", "document:42", true)]
    [InlineData("document:42", "document:421", false)]
    [InlineData("document:*", "document:42", true)]
    [InlineData("document:*", "document:", true)]
    [InlineData("document:*", "documents:1", false)]
    [InlineData("*:42", "story:42", true)]
    [InlineData("*:42", "story:420", false)]
    [InlineData("*", "", true)]
    [InlineData("*", "anything at all", true)]
    [InlineData("a*b*c", "abc", true)]
    [InlineData("a*b*c", "a-b-b-c", true)]
    [InlineData("a*b*c", "acb", false)]
    [InlineData("a*b*c", "ab", false)]
    [InlineData("ab*ba", "aba", false)]
    [InlineData("ab*ba", "abba", true)]
    [InlineData("**x**", "x", true)]
    [InlineData("*.html", "/news/a.html", true)]
    [InlineData("caf\u00e9:*", "caf\u00e9:1", true)]
    [InlineData("?", "x", false)]
    public void Matches_the_whole_key_with_star_as_the_only_wildcard(string pattern, string key, bool expected) =>
        Assert.Equal(expected, new KeyPattern(pattern).Matches(Encoding.UTF8.GetBytes(key)));

    [Fact]
    public void Any_of_several_patterns()
    {
        KeyPattern[] patterns = [new("story:*"), new("video:*:hd")];
        Assert.True(KeyPattern.AnyMatches(patterns, "video:7:hd"u8));
        Assert.True(KeyPattern.AnyMatches(patterns, "story:1"u8));
        Assert.False(KeyPattern.AnyMatches(patterns, "video:7:sd"u8));
    }

    [Theory]
    [InlineData("", false)]
    [InlineData("*", true)]
    [InlineData("story:*", true)]
    public void A_pattern_must_be_non_empty_and_short(string pattern, bool ok)
    {
        Assert.Equal(ok, KeyPattern.Problem(pattern) is null);
        Assert.Null(KeyPattern.Problem(new string('a', KeyPattern.MaxBytes)));
        Assert.NotNull(KeyPattern.Problem(new string('\u00e9', (KeyPattern.MaxBytes / 2) + 1)));
    }
}
