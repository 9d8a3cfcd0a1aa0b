using System.Text;
using System.Text.Json;

namespace PixelPing.Config;

internal enum ConfigValueKind
{
    Null,
    True,
    False,
    Number,
    String,
    Array,
    Object,
}

/// <summary>
/// One value as a config source wrote it, before a key's type checks it: the JSON file's token today, and any other
/// source (an environment variable) builds the same, so every source is typed and validated by the same code.
/// </summary>
internal readonly struct ConfigValue(ConfigValueKind kind, string text, double number, bool escaped, IReadOnlyList<ConfigValue>? items)
{
    public ConfigValueKind Kind { get; } = kind;

    /// <summary>A string's value, or a number as written (<c>1e400</c> stays <c>1e400</c> in messages).</summary>
    public string Text { get; } = text;

    /// <summary>A number's value: infinite when out of a double's range, NaN for a value that is not a number.</summary>
    public double Number { get; } = number;

    /// <summary>The string was written with escapes (<c>\u0038</c>): digits meant as a port must be written plainly.</summary>
    public bool Escaped { get; } = escaped;

    /// <summary>An array's items, read only for keys that take a list; null otherwise.</summary>
    public IReadOnlyList<ConfigValue>? Items { get; } = items;

    public static ConfigValue Null { get; } = new(ConfigValueKind.Null, "", double.NaN, false, null);

    public static ConfigValue FromString(string text, bool escaped = false) => new(ConfigValueKind.String, text, double.NaN, escaped, null);

    public static ConfigValue FromNumber(string text, double number) => new(ConfigValueKind.Number, text, number, false, null);

    public static ConfigValue FromBool(bool value) => new(value ? ConfigValueKind.True : ConfigValueKind.False, "", double.NaN, false, null);

    public static ConfigValue FromList(IReadOnlyList<ConfigValue> items) => new(ConfigValueKind.Array, "", double.NaN, false, items);

    /// <summary>
    /// An environment variable's text as the JSON value it is, when it is one whole JSON number, <c>true</c> or
    /// <c>false</c> (or for a list key an array, <c>["a","b"]</c>); otherwise a string, or for a list key its
    /// comma-separated items.
    /// </summary>
    public static ConfigValue FromEnvironment(string text, bool takesList)
    {
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(text));
            if (reader.Read() && (reader.TokenType is JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False
                || (takesList && reader.TokenType == JsonTokenType.StartArray)))
            {
                ConfigValue value = Read(ref reader, takesList);
                if (!reader.Read())
                {
                    return value;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not JSON ("https://…", "127.0.0.1:9188", "1.5s"), or an array holding a string that cannot be decoded
            // (a lone surrogate escape, "\ud800"): the text as it is, which the key's own check then refuses or takes.
        }

        return takesList
            ? FromList(text.Length == 0 ? [] : text.Split(',').Select(static item => FromString(item.Trim())).ToArray())
            : FromString(text);
    }

    /// <summary>
    /// The value at the reader's current token. An array's items are read (and the reader moved to its end) only when
    /// <paramref name="readItems"/> is set; otherwise an array or object is left unread, as every other key refuses it.
    /// </summary>
    public static ConfigValue Read(ref Utf8JsonReader reader, bool readItems)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return Null;
            case JsonTokenType.True:
                return FromBool(true);
            case JsonTokenType.False:
                return FromBool(false);
            case JsonTokenType.Number:
                return FromNumber(Encoding.UTF8.GetString(reader.ValueSpan), reader.TryGetDouble(out double number) ? number : double.NaN);
            case JsonTokenType.String:
                return FromString(reader.GetString()!, reader.ValueIsEscaped);
            case JsonTokenType.StartArray when readItems:
                var items = new List<ConfigValue>();
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    items.Add(Read(ref reader, readItems: false));
                    if (reader.TokenType is JsonTokenType.StartArray or JsonTokenType.StartObject)
                    {
                        reader.Skip();
                    }
                }

                return FromList(items);
            case JsonTokenType.StartArray:
                return new(ConfigValueKind.Array, "", double.NaN, false, null);
            default:
                return new(ConfigValueKind.Object, "", double.NaN, false, null);
        }
    }

    /// <summary>The value as a message shows it after "(got ": strings quoted and cut, numbers as written.</summary>
    public string Got => Kind switch
    {
        ConfigValueKind.String => Quoting.Quote(Text),
        ConfigValueKind.Number => Text,
        ConfigValueKind.True => "true",
        ConfigValueKind.False => "false",
        ConfigValueKind.Null => "null",
        ConfigValueKind.Array => "an array",
        _ => "an object",
    };
}
