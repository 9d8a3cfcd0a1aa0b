using System.Globalization;
using System.Text;

namespace PixelPing.Common;

/// <summary>
/// A value from outside (a config value, a key name, a command-line argument) as a one-line message shows it: quoted,
/// with JSON escapes for quotes and control characters (so it cannot break the line or start a terminal escape), and
/// cut when long.
/// </summary>
internal static class Quoting
{
    private const int MaxQuoted = 60;

    /// <summary>A value quoted for a one-line message: JSON escapes for quotes and control characters, cut when long.</summary>
    public static string Quote(string value)
    {
        var text = new StringBuilder(Math.Min(value.Length, MaxQuoted) + 8);
        text.Append('"');
        int count = 0;
        foreach (char c in value)
        {
            if (count++ == MaxQuoted)
            {
                text.Append("...");
                break;
            }

            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                default:
                    // Controls (C0, DEL, C1), line separators and bidirectional overrides: none may reach a log line raw.
                    if (char.IsControl(c) || c is >= '\u2028' and <= '\u202e' || c is >= '\u2066' and <= '\u2069')
                    {
                        text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        text.Append(c);
                    }

                    break;
            }
        }

        return text.Append('"').ToString();
    }
}
