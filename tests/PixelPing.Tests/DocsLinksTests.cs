using System.Text;
using System.Text.RegularExpressions;
using PixelPing.Tests.Support;

namespace PixelPing.Tests;

/// <summary>
/// The repository's Markdown documents (README.md, CONTRIBUTING.md, bench/README.md, docs/*.md and any other): every
/// relative link leads to a file of the repository, and every <c>#anchor</c> to a heading of its target, named as
/// GitHub names heading anchors.
/// </summary>
public sealed partial class DocsLinksTests
{
    private static readonly string[] s_skipped = ["bin", "obj", "dist", "TestResults", "out"];

    [Fact]
    public void Every_relative_link_and_anchor_between_the_documents_resolves()
    {
        var problems = new List<string>();
        int checkedLinks = 0;
        foreach (string document in Documents())
        {
            string name = Path.GetRelativePath(Repo.Root, document);
            foreach ((int line, string target) in Links(File.ReadAllText(document)))
            {
                if (UriScheme().IsMatch(target))
                {
                    continue;
                }

                checkedLinks++;
                int hash = target.IndexOf('#');
                string path = hash < 0 ? target : target[..hash];
                string? anchor = hash < 0 ? null : target[(hash + 1)..];
                string file = path.Length == 0 ? document : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(document)!, Uri.UnescapeDataString(path)));
                if (!file.StartsWith(Repo.Root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !(File.Exists(file) || Directory.Exists(file)))
                {
                    problems.Add($"{name}:{line}: {target}: no such file in the repository");
                }
                else if (anchor is not null && !(file.EndsWith(".md", StringComparison.Ordinal) && Anchors(File.ReadAllText(file)).Contains(anchor)))
                {
                    problems.Add($"{name}:{line}: {target}: no heading with the anchor #{anchor} in {Path.GetRelativePath(Repo.Root, file)}");
                }
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
        // The documents link to each other: finding none would mean the links were not found, not that they work.
        Assert.True(checkedLinks > 50, $"only {checkedLinks} relative links found");
    }

    [Theory]
    [InlineData("What your endpoint receives, and must do", "what-your-endpoint-receives-and-must-do")]
    [InlineData("Differences from pixel-ping 0.1.6", "differences-from-pixel-ping-016")]
    [InlineData("`bench/run.sh`: pixel-ping against nginx's `empty_gif`", "benchrunsh-pixel-ping-against-nginxs-empty_gif")]
    [InlineData("Checking a config: `--check`", "checking-a-config---check")]
    [InlineData("[HTTPS endpoints](https.md) and **more**", "https-endpoints-and-more")]
    [InlineData("Ünïcode stays", "ünïcode-stays")]
    public void Anchors_are_named_as_github_names_them(string heading, string anchor)
    {
        Assert.Equal(new[] { anchor }, Anchors("## " + heading + "\n"));
    }

    [Fact]
    public void A_repeated_heading_gets_a_numbered_anchor_and_code_is_not_a_heading_or_a_link()
    {
        string text = "# Logs\n\n```sh\n# not a heading [x](nowhere.md)\n```\n\n## Logs\n\nSee `[y](nowhere.md)` and [z](here.md#logs-1).\n";

        Assert.Equal(new[] { "logs", "logs-1" }, Anchors(text));
        Assert.Equal(new[] { (9, "here.md#logs-1") }, Links(text));
    }

    private static IEnumerable<string> Documents() =>
        Directory.EnumerateFiles(Repo.Root, "*.md", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(Repo.Root, f).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.') || s_skipped.Contains(part)))
            .Order(StringComparer.Ordinal);

    /// <summary>Each line, numbered from 1, and whether it is inside a fenced code block (or is its fence).</summary>
    private static IEnumerable<(int Line, string Text, bool Fenced)> Lines(string markdown)
    {
        bool fenced = false;
        int number = 0;
        foreach (string line in markdown.ReplaceLineEndings("\n").Split('\n'))
        {
            number++;
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                fenced = !fenced;
                yield return (number, "", true);
                continue;
            }

            yield return (number, line, fenced);
        }
    }

    private static List<(int Line, string Target)> Links(string markdown) =>
        [.. Lines(markdown).Where(l => !l.Fenced).SelectMany(l => Link().Matches(InlineCode().Replace(l.Text, "")).Select(m => (l.Line, m.Groups[1].Value)))];

    /// <summary>
    /// The anchors GitHub gives the headings: the heading's text as rendered (links by their text, no code or emphasis
    /// marks), lower-cased, every character but letters, digits, '_', '-' and spaces removed, each space a '-'; a
    /// repeated anchor gets "-1", "-2", … in order.
    /// </summary>
    private static List<string> Anchors(string markdown)
    {
        var anchors = new List<string>();
        foreach ((_, string text, bool fenced) in Lines(markdown))
        {
            Match heading = Heading().Match(text);
            if (fenced || !heading.Success)
            {
                continue;
            }

            string rendered = Link().Replace(InlineMarks().Replace(heading.Groups[1].Value, ""), m => m.Groups["text"].Value);
            var slug = new StringBuilder();
            foreach (char c in rendered.ToLowerInvariant())
            {
                if (char.IsLetterOrDigit(c) || c is '_' or '-')
                {
                    slug.Append(c);
                }
                else if (c == ' ')
                {
                    slug.Append('-');
                }
            }

            string anchor = slug.ToString();
            int repeats = anchors.Count(a => a == anchor);
            anchors.Add(repeats == 0 ? anchor : anchor + "-" + repeats);
        }

        return anchors;
    }

    [GeneratedRegex(@"\[(?<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\(([^()\s]+)(?:\s+""[^""]*"")?\)")]
    private static partial Regex Link();

    [GeneratedRegex("`+[^`]*`+")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"[*`]")]
    private static partial Regex InlineMarks();

    [GeneratedRegex(@"^#{1,6}\s+(.*?)\s*#*\s*$")]
    private static partial Regex Heading();

    [GeneratedRegex("^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase)]
    private static partial Regex UriScheme();
}
