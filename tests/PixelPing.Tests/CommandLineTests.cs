using System.Reflection;

namespace PixelPing.Tests;

public sealed class CommandLineTests
{
    public static TheoryData<string[], string, string?> Accepted => new()
    {
        { ["config.json"], "Run", "config.json" },
        { ["/etc/pixel-ping/config.json"], "Run", "/etc/pixel-ping/config.json" },
        { ["dir with space/c.json"], "Run", "dir with space/c.json" },
        { ["./-odd.json"], "Run", "./-odd.json" },
        { ["-v"], "Version", null },
        { ["-version"], "Version", null },
        { ["--version"], "Version", null },
        { ["-h"], "Help", null },
        { ["-help"], "Help", null },
        { ["--help"], "Help", null },
        { ["--check", "config.json"], "Check", "config.json" },
        { ["--check=config.json"], "Check", "config.json" },
        { ["--check", "--no-bind", "config.json"], "Check", "config.json" },
        { ["--no-bind", "--check", "config.json"], "Check", "config.json" },
        { ["--check=config.json", "--no-bind"], "Check", "config.json" },
    };

    // The kind travels as its name: CommandKind is internal and a public test method cannot take it.
    [Theory]
    [MemberData(nameof(Accepted))]
    public void Parse_valid_forms(string[] args, string kind, string? path)
    {
        Command command = CommandLine.Parse(args);

        Assert.Equal(Enum.Parse<CommandKind>(kind), command.Kind);
        Assert.Equal(path, command.ConfigPath);
        Assert.Null(command.Error);
        Assert.Equal(args.Contains("--no-bind"), command.NoBind);
    }

    public static TheoryData<string[], string> Rejected => new()
    {
        { [], "no config file given" },
        { ["--check"], "--check needs the path of a config file" },
        { ["--check", ""], "--check needs the path of a config file" },
        { ["--check", "-v"], "--check needs the path of a config file" },
        { ["--check="], "--check needs the path of a config file" },
        { ["--check", "a.json", "b.json"], "unexpected argument \"b.json\"" },
        { ["--check=a.json", "b.json"], "unexpected argument \"b.json\"" },
        { ["a.json", "b.json"], "unexpected argument \"b.json\"" },
        { ["a.json", "--check"], "unexpected argument \"--check\"" },
        { ["-v", "a.json"], "unexpected argument \"a.json\"" },
        { ["--help", "x"], "unexpected argument \"x\"" },
        { ["-x"], "unknown option \"-x\"" },
        { ["--verbose"], "unknown option \"--verbose\"" },
        { ["-V"], "unknown option \"-V\"" },
        { ["-"], "unknown option \"-\"" },
        { ["--check-config", "a.json"], "unknown option \"--check-config\"" },
        { ["--no-bind", "a.json"], "--no-bind goes only with --check" },
        { ["a.json", "--no-bind"], "--no-bind goes only with --check" },
        { ["--healthcheck", "a.json", "--no-bind"], "--no-bind goes only with --check" },
        { ["--check", "--no-bind"], "--check needs the path of a config file" },
        { ["--no-bind"], "no config file given" },
        { [""], "the config file path is empty" },
        { ["-\n-x"], "unknown option \"-\\n-x\"" },
        { ["-\u001b[31m"], "unknown option \"-\\u001b[31m\"" },
    };

    [Theory]
    [MemberData(nameof(Rejected))]
    public void Parse_usage_errors(string[] args, string error)
    {
        Command command = CommandLine.Parse(args);

        Assert.Equal(CommandKind.Usage, command.Kind);
        Assert.Null(command.ConfigPath);
        Assert.Equal(error, command.Error);
        Assert.DoesNotContain('\n', command.Error!);
    }

    [Fact]
    public void Usage_text_starts_with_the_original_line_and_lists_the_options()
    {
        string[] lines = CommandLine.UsageText.Split('\n');

        Assert.Equal("Usage: pixel-ping path/to/config.json", lines[0]);
        Assert.Contains("--check", CommandLine.UsageText, StringComparison.Ordinal);
        Assert.Contains("--check --no-bind path/to/config.json", CommandLine.UsageText, StringComparison.Ordinal);
        Assert.Contains("--version", CommandLine.UsageText, StringComparison.Ordinal);
        Assert.Contains("--help", CommandLine.UsageText, StringComparison.Ordinal);
    }

    [Fact]
    public void Version_text_matches_the_project_version()
    {
        string? informational = typeof(CommandLine).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        Assert.NotNull(informational);
        string version = informational.Split('+')[0];

        Assert.Equal(CommandLine.VersionText, "Pixel Ping version " + version);
        Assert.Matches(@"^Pixel Ping version \d+\.\d+\.\d+$", CommandLine.VersionText);
    }
}
