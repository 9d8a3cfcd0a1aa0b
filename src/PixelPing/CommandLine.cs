using static PixelPing.Common.Quoting;

namespace PixelPing;

internal enum CommandKind
{
    Run,
    Version,
    Help,
    Check,
    HealthCheck,
    Usage,
}

/// <summary>What the command line asks for. <see cref="Error"/> is set only for <see cref="CommandKind.Usage"/>.</summary>
internal readonly record struct Command(CommandKind Kind, string? ConfigPath, string? Error);

/// <summary>
/// The original's command line (<c>pixel-ping CONFIG</c>, <c>-v</c>, <c>-h</c> and their long forms) plus
/// <c>--check</c> and <c>--healthcheck</c>. Anything else is a usage error, which the caller turns into exit code 2.
/// </summary>
internal static class CommandLine
{
    // The project's <Version>, as a constant the build writes (src/PixelPing/PixelPing.csproj, WriteProductVersion).
    public const string Version = ProductVersion.Value;

    public const string VersionText = "Pixel Ping version " + Version;

    public static string UsageText { get; } =
        "Usage: pixel-ping path/to/config.json\n" +
        "\n" +
        "Options:\n" +
        "  --check path/to/config.json   check the config and certificate files, print what would run, exit 0 or 1\n" +
        "  --healthcheck path/to/config.json\n" +
        "                                ask the server that config describes whether it is up: exit 0 or 1 within 2 s\n" +
        "  -v, -version, --version       print the version\n" +
        "  -h, -help, --help             print this help\n" +
        "\n" +
        "The server exits 0 when it stopped and every hit it answered was delivered or written to the spool file,\n" +
        "1 when it cannot start, 2 for a usage error, 3 when it stopped with hits neither delivered nor saved.\n";

    public static Command Parse(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0)
        {
            return Usage("no config file given");
        }

        string first = args[0];
        switch (first)
        {
            case "-v" or "-version" or "--version":
                return args.Length == 1 ? new Command(CommandKind.Version, null, null) : Unexpected(args[1]);

            case "-h" or "-help" or "--help":
                return args.Length == 1 ? new Command(CommandKind.Help, null, null) : Unexpected(args[1]);

            case "--check":
                return WithConfig(CommandKind.Check, first, args);
            case "--healthcheck":
                return WithConfig(CommandKind.HealthCheck, first, args);
        }

        foreach ((string option, CommandKind kind) in (ReadOnlySpan<(string, CommandKind)>)[("--check=", CommandKind.Check), ("--healthcheck=", CommandKind.HealthCheck)])
        {
            if (first.StartsWith(option, StringComparison.Ordinal))
            {
                string path = first[option.Length..];
                if (path.Length == 0)
                {
                    return Usage($"{option[..^1]} needs the path of a config file");
                }

                return args.Length == 1 ? new Command(kind, path, null) : Unexpected(args[1]);
            }
        }

        if (IsOption(first))
        {
            return Usage($"unknown option {Quote(first)}");
        }

        if (first.Length == 0)
        {
            return Usage("the config file path is empty");
        }

        // The original ignored extra arguments; refusing them catches "pixel-ping a.json --check" mistakes.
        return args.Length == 1 ? new Command(CommandKind.Run, first, null) : Unexpected(args[1]);
    }

    /// <summary>An option followed by the config path as the next argument, and nothing after it.</summary>
    private static Command WithConfig(CommandKind kind, string option, string[] args)
    {
        if (args.Length < 2 || args[1].Length == 0 || IsOption(args[1]))
        {
            return Usage(option + " needs the path of a config file");
        }

        return args.Length == 2 ? new Command(kind, args[1], null) : Unexpected(args[2]);
    }

    // "-" alone counts as an option too: there is no reading the config from stdin.
    private static bool IsOption(string arg) => arg.StartsWith('-');

    private static Command Unexpected(string arg) => Usage($"unexpected argument {Quote(arg)}");

    private static Command Usage(string error) => new(CommandKind.Usage, null, error);
}
