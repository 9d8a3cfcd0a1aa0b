namespace PixelPing.Config;

/// <summary>
/// One config key, declared once in <see cref="ConfigKeys.All"/>: its name, type and default. The file reader, the
/// environment overrides and <c>--check</c> follow from it (and a test holds docs/configuration.md's table to it).
/// </summary>
internal abstract class ConfigKey(string name)
{
    /// <summary>The key as written in the config file, lower-case.</summary>
    public string Name { get; } = name;

    /// <summary>True for a key whose value is a list: its reader collects an array's items.</summary>
    public abstract bool TakesList { get; }

    public abstract Settings WithDefault(Settings settings);

    /// <summary>
    /// Checks <paramref name="value"/> and sets it; null restores the default. False and a complaint to put after
    /// the key's name when the value does not fit.
    /// </summary>
    public abstract bool TryApply(ref Settings settings, in ConfigValue value, out string complaint, out string? note);

    /// <summary>The key's value in <paramref name="settings"/> as <c>--check</c> shows it.</summary>
    public abstract string Show(Settings settings);
}

/// <summary>A key whose value has type <typeparamref name="T"/>, read from and written to one <see cref="Settings"/> property.</summary>
/// <param name="none">Words for a value that is not set, as <c>--check</c> shows it.</param>
internal sealed class ConfigKey<T>(
    string name, ConfigType<T> type, T defaultValue, Func<Settings, T> get, Func<Settings, T, Settings> set, string none = "none")
    : ConfigKey(name)
{
    public override bool TakesList => type.TakesList;

    public override Settings WithDefault(Settings settings) => set(settings, defaultValue);

    public override bool TryApply(ref Settings settings, in ConfigValue value, out string complaint, out string? note)
    {
        if (value.Kind == ConfigValueKind.Null)
        {
            complaint = "";
            note = null;
            settings = set(settings, defaultValue);
            return true;
        }

        if (!type.Parse(value, out T result, out complaint, out note))
        {
            return false;
        }

        settings = set(settings, result);
        return true;
    }

    public override string Show(Settings settings) => Text(get(settings)) is { Length: > 0 } text ? text + type.Unit : none;

    // Null and empty (an empty list) are both "not set".
    private string Text(T value) => value is null ? "" : type.Text(value);
}
