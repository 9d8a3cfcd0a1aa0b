using System.Text;
using PixelPing.Config;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Config;

public sealed class ConfigKeysTests
{
    [Fact]
    public void Readme_table_lists_exactly_the_declared_keys_with_their_types_defaults_and_meanings()
    {
        var expected = new StringBuilder("| key | type | default | meaning |\n|---|---|---|---|\n");
        foreach (ConfigKey key in ConfigKeys.All)
        {
            expected.Append($"| `{key.Name}` | {key.TypeDescription} | {key.DefaultText} | {key.Help} |\n");
        }

        string readme = File.ReadAllText(Path.Combine(Repo.Root, "README.md")).ReplaceLineEndings("\n");
        int start = readme.IndexOf("| key | type | default | meaning |\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no configuration table");
        int end = readme.IndexOf("\n\n", start, StringComparison.Ordinal);

        // On a difference, the expected side is the table to paste into the README (or the declaration to fix).
        Assert.Equal(expected.ToString(), readme[start..(end + 1)]);
    }

    [Fact]
    public void Key_names_are_lower_case_and_unique()
    {
        var names = ConfigKeys.All.Select(k => k.Name).ToList();

        Assert.Equal(names.Count, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(names, n => Assert.Equal(n.ToLowerInvariant(), n));
        Assert.All(names, n => Assert.Same(ConfigKeys.All.Single(k => k.Name == n), ConfigKeys.Find(n)));
        Assert.Null(ConfigKeys.Find("Port"));
    }

    [Fact]
    public void Default_holds_every_declared_default()
    {
        Settings defaults = Settings.Default;

        foreach (ConfigKey key in ConfigKeys.All)
        {
            string shown = key.Show(defaults);
            string fromDefault = key.DefaultText.Trim('`');
            Assert.StartsWith(fromDefault, shown, StringComparison.Ordinal);
        }
    }

    private static readonly ConfigType<IReadOnlyList<string>> s_patterns =
        ConfigTypes.StringList(3, "patterns", item => item.Contains(' ', StringComparison.Ordinal) ? "a pattern without spaces" : null);

    private static (bool Ok, IReadOnlyList<string> Result, string Complaint) ParseList(ConfigValue value)
    {
        bool ok = s_patterns.Parse(value, out IReadOnlyList<string> result, out string complaint, out string? note);
        Assert.Null(note);
        return (ok, result, complaint);
    }

    [Fact]
    public void String_list_keeps_the_items_in_order()
    {
        var result = ParseList(ConfigValue.FromList([ConfigValue.FromString("b*"), ConfigValue.FromString("a")]));

        Assert.True(result.Ok, result.Complaint);
        Assert.Equal(["b*", "a"], result.Result);
        Assert.Equal("\"b*\", \"a\"", s_patterns.Text(result.Result));
        Assert.Equal("list of patterns, at most 3", s_patterns.Description);
        Assert.True(s_patterns.TakesList);
    }

    [Fact]
    public void String_list_refuses_too_many_items_a_wrong_item_and_a_non_list()
    {
        ConfigValue a = ConfigValue.FromString("a");

        Assert.Equal("must be a list of at most 3 strings (got 4)", ParseList(ConfigValue.FromList([a, a, a, a])).Complaint);
        Assert.Equal("item 2 must be a pattern without spaces (got \"x y\")", ParseList(ConfigValue.FromList([a, ConfigValue.FromString("x y")])).Complaint);
        Assert.Equal("item 1 must be a string (got true)", ParseList(ConfigValue.FromList([ConfigValue.FromBool(true)])).Complaint);
        Assert.Equal("must be a list of at most 3 strings (got \"a\")", ParseList(a).Complaint);
        Assert.False(ParseList(ConfigValue.FromList([a, a, a, a])).Ok);
    }
}
