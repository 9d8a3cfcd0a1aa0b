namespace PixelPing.Config;

/// <summary>
/// One config key, declared once in <see cref="ConfigKeys.All"/>: its name, type, default and the README's words for
/// it. The file reader, <c>--check</c> and the README's table (kept equal by a test) all follow from it.
/// </summary>
internal abstract class ConfigKey(string name, string help)
{
    /// <summary>The key as written in the config file, lower-case.</summary>
    public string Name { get; } = name;

    /// <summary>The README's "meaning" column.</summary>
    public string Help { get; } = help;

    /// <summary>The README's "type" column.</summary>
    public abstract string TypeDescription { get; }

    /// <summary>The README's "default" column: the value in backticks, or words for "not set".</summary>
    public abstract string DefaultText { get; }

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
/// <param name="none">Words for a value that is not set (the README's default and <c>--check</c>).</param>
internal sealed class ConfigKey<T>(
    string name, ConfigType<T> type, T defaultValue, Func<Settings, T> get, Func<Settings, T, Settings> set, string help, string none = "none")
    : ConfigKey(name, help)
{
    public override string TypeDescription => type.Description;

    public override string DefaultText => Text(defaultValue) is { Length: > 0 } text ? "`" + text + "`" : none;

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
