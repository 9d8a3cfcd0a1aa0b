using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using PixelPing.Config;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Config;

public sealed partial class ConfigKeysTests
{
    /// <summary>One row of docs/configuration.md's key table, its cells as written.</summary>
    private sealed record DocumentedKey(string Name, string Type, string Default, string Meaning);

    private static IReadOnlyList<DocumentedKey> ReadDocumentedKeys()
    {
        const string Head = "| key | type | default | meaning |\n|---|---|---|---|\n";
        string doc = File.ReadAllText(Path.Combine(Repo.Root, "docs", "configuration.md")).ReplaceLineEndings("\n");
        int start = doc.IndexOf(Head, StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/configuration.md has no key table (its head: " + Head.TrimEnd() + ")");
        var rows = new List<DocumentedKey>();
        foreach (string line in doc[(start + Head.Length)..].Split('\n').TakeWhile(l => l.StartsWith('|')))
        {
            string[] cells = line.Split('|');
            Assert.True(cells.Length == 6, "a key table row is not four cells: " + line);
            Match name = KeyCell().Match(cells[1].Trim());
            Assert.True(name.Success, "a key table row does not start with a key in backticks: " + line);
            rows.Add(new DocumentedKey(name.Groups[1].Value, cells[2].Trim(), cells[3].Trim(), cells[4].Trim()));
        }

        return rows;
    }

    [Fact]
    public void The_documented_table_lists_exactly_the_declared_keys_in_their_order()
    {
        IReadOnlyList<DocumentedKey> rows = ReadDocumentedKeys();

        Assert.Equal(ConfigKeys.All.Select(k => k.Name), rows.Select(r => r.Name));
        Assert.All(rows, r => Assert.False(r.Meaning.Length == 0, r.Name + " has no meaning in docs/configuration.md"));
    }

    [Fact]
    public void The_documented_defaults_are_the_declared_ones()
    {
        foreach (DocumentedKey row in ReadDocumentedKeys())
        {
            ConfigKey key = ConfigKeys.All.Single(k => k.Name == row.Name);
            // A value in backticks, or words for a value that is not set; --check shows seconds with their unit.
            string shown = row.Default.Trim('`') + (row.Type.StartsWith("seconds", StringComparison.Ordinal) ? " s" : "");
            Assert.True(shown == key.Show(Settings.Default),
                $"docs/configuration.md gives {row.Name} the default {row.Default}, but --check shows {key.Show(Settings.Default)}");
        }
    }

    [Fact]
    public void Every_documented_type_takes_the_values_at_its_edges_and_refuses_those_past_them()
    {
        foreach (DocumentedKey row in ReadDocumentedKeys())
        {
            ConfigKey key = ConfigKeys.All.Single(k => k.Name == row.Name);
            (string[] taken, string[] refused) = Probes(row.Type);
            foreach (string json in taken)
            {
                Settings settings = Settings.Default;
                Assert.True(key.TryApply(ref settings, Json(json), out string complaint, out _),
                    $"{row.Name} is documented as \"{row.Type}\" but refuses {json}: {complaint}");
            }

            foreach (string json in refused)
            {
                Settings settings = Settings.Default;
                Assert.False(key.TryApply(ref settings, Json(json), out _, out _),
                    $"{row.Name} is documented as \"{row.Type}\" but takes {json}");
            }
        }
    }

    /// <summary>
    /// Values (as JSON) a key of the documented type must take and must refuse. A type written in words that none of
    /// these patterns knows fails the test: a new kind of value needs its probes here.
    /// </summary>
    private static (string[] Taken, string[] Refused) Probes(string type)
    {
        if (RangeType().Match(type) is { Success: true } range)
        {
            string min = range.Groups["min"].Value;
            string? max = range.Groups["max"].Success ? range.Groups["max"].Value : null;
            if (range.Groups["kind"].Value == "seconds")
            {
                string below = min == "0" ? "-0.001" : Number(double.Parse(min, CultureInfo.InvariantCulture) / 2);
                return ([min, max!, "1.5"], [below, Number(double.Parse(max!, CultureInfo.InvariantCulture) + 0.001), "\"1\"", "true"]);
            }

            long low = long.Parse(min, CultureInfo.InvariantCulture);
            string[] taken = max is null ? [min, int.MaxValue.ToString(CultureInfo.InvariantCulture)] : [min, max];
            string[] refused = [(low - 1).ToString(CultureInfo.InvariantCulture), Number(low + 0.5), "\"" + min + "\"", "true"];
            if (max is not null)
            {
                refused = [.. refused, (long.Parse(max, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture)];
            }

            return (taken, refused);
        }

        if (ListType().Match(type) is { Success: true } list)
        {
            int most = int.Parse(list.Groups["most"].Value, CultureInfo.InvariantCulture);
            (string good, string bad) = list.Groups["noun"].Value switch
            {
                "host names" => ("*.example.org", "https://example.org/"),
                "key patterns (`*` wildcard)" => ("story:*", ""),
                "CIDR blocks" => ("192.0.2.0/24", "192.168.1.0/16"),
                string noun => throw new InvalidOperationException("no probe for a list of " + noun),
            };
            return ([List(good, 1), List(good, most), "[]"], [List(good, most + 1), List(bad, 1), Quoted(good)]);
        }

        return type switch
        {
            "bool" => (["true", "false"], ["\"true\"", "1"]),
            "string" => (["\"x\""], ["1", "true"]),
            "PEM file path" or "file path" => (["\"/etc/pixel-ping/key.pem\"", "\"spool\""], ["\"\"", "1"]),
            "number or numeric string, 0 to 65535" => (["0", "65535", "\"8080\""], ["-1", "65536", "1.5", "\"80abc\"", "\"65536\"", "true"]),
            "`http://`, `https://`, `postgresql://` or `redis://` URL" => (["\"http://stats.example.org/hits\"", "\"https://stats.example.org/hits?site=a\"",
                    "\"postgresql://pixel@127.0.0.1:5432/stats?sslmode=disable\"", "\"postgres://pixel@localhost/stats\"", "\"redis://127.0.0.1:6379/0\"",
                    "\"rediss://:pw@cache.example.org/1\""],
                ["\"ftp://stats.example.org/\"", "\"stats.example.org\"", "\"postgresql://h/db?sslmode=maybe\"", "\"mysql://h/db\"", "1"]),
            "`\"address:port\"` or port" => (["\"127.0.0.1:9188\"", "\"[::1]:9188\"", "9188", "\"9188\""], ["\"localhost:9188\"", "\"::1:9188\"", "65536", "true"]),
            "`\"text\"` or `\"json\"`" => (["\"text\"", "\"json\""], ["\"xml\"", "true"]),
            _ => throw new InvalidOperationException($"no probe for the documented type \"{type}\": add one to ConfigKeysTests.Probes"),
        };
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    // The probes' strings hold no quote or backslash.
    private static string Quoted(string text) => "\"" + text + "\"";

    private static string List(string item, int count) => "[" + string.Join(",", Enumerable.Repeat(Quoted(item), count)) + "]";

    /// <summary>A JSON value as the config file's reader hands it to a key.</summary>
    private static ConfigValue Json(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        Assert.True(reader.Read(), json);
        return ConfigValue.Read(ref reader, readItems: true);
    }

    [GeneratedRegex("^`([a-z]+)`$")]
    private static partial Regex KeyCell();

    // "integer, 1 to 65536", "bytes ≥ 0", "seconds, 0.001 to 3600".
    [GeneratedRegex(@"^(?<kind>integer|bytes|seconds)(?:, (?<min>[0-9.]+) to (?<max>[0-9.]+)| ≥ (?<min>[0-9]+))$")]
    private static partial Regex RangeType();

    // "list of CIDR blocks, at most 1000".
    [GeneratedRegex(@"^list of (?<noun>.+), at most (?<most>[0-9]+)$")]
    private static partial Regex ListType();

    [Fact]
    public void Key_names_are_lower_case_and_unique()
    {
        var names = ConfigKeys.All.Select(k => k.Name).ToList();

        Assert.Equal(names.Count, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.All(names, n => Assert.Equal(n.ToLowerInvariant(), n));
        Assert.All(names, n => Assert.Same(ConfigKeys.All.Single(k => k.Name == n), ConfigKeys.Find(n)));
        Assert.Null(ConfigKeys.Find("Port"));
    }

    private static readonly ConfigType<IReadOnlyList<string>> s_patterns =
        ConfigTypes.StringList(3, item => item.Contains(' ', StringComparison.Ordinal) ? "a pattern without spaces" : null);

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
