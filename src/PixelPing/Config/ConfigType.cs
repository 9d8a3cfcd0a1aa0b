namespace PixelPing.Config;

/// <summary>
/// Checks one value for a key: the typed result, or what is wrong with it said after the key's name
/// ("must be true or false (got "yes")"). A value that is accepted may still come with a note for a warning
/// ("is empty; hits will only be logged").
/// </summary>
internal delegate bool ConfigParser<T>(in ConfigValue value, out T result, out string complaint, out string? note);

/// <summary>
/// What a kind of value is: how it is checked and how a value is written back (<c>--check</c>).
/// <see cref="ConfigTypes"/> makes them.
/// </summary>
internal sealed class ConfigType<T>(ConfigParser<T> parse, Func<T, string> text, string unit = "", bool takesList = false)
{
    public ConfigParser<T> Parse { get; } = parse;

    /// <summary>A value as the config would write it.</summary>
    public Func<T, string> Text { get; } = text;

    /// <summary>What <c>--check</c> writes after a value (" s" after seconds).</summary>
    public string Unit { get; } = unit;

    /// <summary>The value is a list: the file reader collects an array's items for it.</summary>
    public bool TakesList { get; } = takesList;
}
