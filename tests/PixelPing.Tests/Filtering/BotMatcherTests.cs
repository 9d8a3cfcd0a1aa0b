using System.Text;
using PixelPing.Filtering;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Filtering;

public sealed class BotMatcherTests
{
    private static readonly (string Kind, string UserAgent)[] s_fixtures = Load();

    private static (string, string)[] Load()
    {
        string path = Path.Combine(Repo.Root, "tests", "PixelPing.Tests", "Vectors", "user-agents.tsv");
        return [.. File.ReadAllLines(path, Encoding.UTF8)
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line.Split('\t', 2) is [string kind, string ua] ? (kind, ua) : throw new InvalidDataException(line))];
    }

    private static bool IsBot(string userAgent) => BotMatcher.IsBot(Encoding.Latin1.GetBytes(userAgent));

    [Fact]
    public void Fixtures_hold_a_few_hundred_of_each_kind()
    {
        Assert.All(s_fixtures, f => Assert.Contains(f.Kind, new[] { "bot", "browser" }));
        Assert.True(s_fixtures.Count(f => f.Kind == "bot") >= 200);
        Assert.True(s_fixtures.Count(f => f.Kind == "browser") >= 200);
        Assert.Equal(s_fixtures.Length, s_fixtures.Select(f => f.UserAgent).Distinct().Count());
    }

    [Fact]
    public void Every_crawler_fixture_matches()
    {
        string[] missed = [.. s_fixtures.Where(f => f.Kind == "bot" && !IsBot(f.UserAgent)).Select(f => f.UserAgent)];
        Assert.True(missed.Length == 0, "not matched:\n" + string.Join('\n', missed));
    }

    [Fact]
    public void No_browser_fixture_matches()
    {
        string[] matched = [.. s_fixtures.Where(f => f.Kind == "browser" && IsBot(f.UserAgent)).Select(f => f.UserAgent)];
        Assert.True(matched.Length == 0, "matched:\n" + string.Join('\n', matched));
    }

    [Theory]
    [InlineData("GOOGLEBOT/2.1", true)]
    [InlineData("python-REQUESTS/2.0", true)]
    [InlineData("", false)]
    [InlineData("Mozilla/5.0", false)]
    [InlineData("Mozilla/5.0 (compatible; \u00e9\u00ff\u0080 Bingbot/2.0)", true)]
    public void Matches_ignoring_case_and_any_byte(string userAgent, bool expected) => Assert.Equal(expected, IsBot(userAgent));

    [Fact]
    public void Finds_a_token_at_the_end_of_a_user_agent_longer_than_the_stack_buffer()
    {
        string padding = new('x', 20_000);
        Assert.True(IsBot(padding + " curl/8.0"));
        Assert.False(IsBot(padding));
    }
}
