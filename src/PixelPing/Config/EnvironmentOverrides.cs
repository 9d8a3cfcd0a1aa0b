using System.Collections;
using System.Text;

namespace PixelPing.Config;

/// <summary>
/// <c>PIXELPING_&lt;KEY&gt;</c> sets a config key from the environment, over the file; <c>PIXELPING_&lt;KEY&gt;_FILE</c>
/// reads the value from a file (the Docker and Kubernetes secrets convention), its trailing line break trimmed. The
/// value goes through the key's own type, so it is checked exactly as in the file; a variable that names no key is an
/// error, since a typo would otherwise leave the file's value in force without a word.
/// </summary>
internal static class EnvironmentOverrides
{
    public const string Prefix = "PIXELPING_";
    private const string FileSuffix = "_FILE";

    /// <summary>Applies every <c>PIXELPING_*</c> variable in <paramref name="environment"/>; false and one line on the first bad one.</summary>
    public static bool TryApply(ref Settings settings, Dictionary<string, string> sources, IDictionary environment, List<string> warnings, out string error)
    {
        error = "";
        var names = new List<string>();
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is string name && name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                names.Add(name);
            }
        }

        // In order, so that the same environment always reports the same first problem.
        names.Sort(StringComparer.Ordinal);
        foreach (string name in names)
        {
            string rest = name[Prefix.Length..];
            bool fromFile = rest.EndsWith(FileSuffix, StringComparison.Ordinal);
            string upper = fromFile ? rest[..^FileSuffix.Length] : rest;
            ConfigKey? key = upper == upper.ToUpperInvariant() ? ConfigKeys.Find(upper.ToLowerInvariant()) : null;
            if (key is null)
            {
                error = $"environment variable {name}: {UnknownReason(upper)}";
                return false;
            }

            if (fromFile && environment.Contains(Prefix + upper))
            {
                error = $"environment variables {Prefix}{upper} and {name} are both set; set only one";
                return false;
            }

            string text = (string?)environment[name] ?? "";
            string path = text;
            if (fromFile && !TryReadValueFile(path, out text, out string reason))
            {
                error = $"environment variable {name}: cannot read {Quoting.Quote(path)}: {reason}";
                return false;
            }

            if (key.Name == "secret" && text.Length == 0)
            {
                // In the file, "" means no secret (as in the original). From the environment it is nearly always a
                // variable or a secret file left unfilled, and taking it would stop signing without a word.
                string held = fromFile ? $" ({Quoting.Quote(path)} holds no text)" : "";
                error = $"environment variable {name}: {Quoting.Quote(key.Name)} is empty{held}, which would send no secret and sign nothing; "
                    + "give it a value, or unset the variable to run without a secret";
                return false;
            }

            if (!TryApplyOne(ref settings, key, text, out string complaint, out string? note))
            {
                error = $"environment variable {name}: {Quoting.Quote(key.Name)} {complaint}";
                return false;
            }

            if (note is not null)
            {
                warnings.Add($"environment variable {name}: {Quoting.Quote(key.Name)} {note}");
            }

            sources[key.Name] = "environment " + name;
        }

        return true;
    }

    private static string UnknownReason(string upper)
    {
        ConfigKey? lower = ConfigKeys.Find(upper.ToLowerInvariant());
        return lower is not null
            ? $"names are upper case: {Prefix}{lower.Name.ToUpperInvariant()}"
            : $"no config key is named {Quoting.Quote(upper.ToLowerInvariant())} (use {Prefix}<KEY> or {Prefix}<KEY>{FileSuffix} with a key from docs/configuration.md, such as {Prefix}ENDPOINT)";
    }

    /// <summary>
    /// An environment value has no JSON type, so it is read as the JSON it looks like (true/false, a number, a
    /// bracketed list) and, if the key refuses that, as the plain string it also is: PIXELPING_SECRET=12345 is a secret.
    /// </summary>
    private static bool TryApplyOne(ref Settings settings, ConfigKey key, string text, out string complaint, out string? note)
    {
        ConfigValue guess = ConfigValue.FromEnvironment(text, key.TakesList);
        if (key.TryApply(ref settings, guess, out complaint, out note))
        {
            return true;
        }

        return guess.Kind is not (ConfigValueKind.String or ConfigValueKind.Array)
            && key.TryApply(ref settings, ConfigValue.FromString(text), out _, out note);
    }

    /// <summary>The value file's text without the line break editors and <c>echo</c> leave at the end.</summary>
    private static bool TryReadValueFile(string path, out string text, out string reason)
    {
        if (SmallFile.TryRead(path, SettingsReader.MaxFileBytes, out byte[] bytes, out int length, out reason) != SmallFileError.None)
        {
            text = "";
            return false;
        }

        text = Encoding.UTF8.GetString(bytes, 0, length).TrimEnd('\r', '\n');
        return true;
    }
}
