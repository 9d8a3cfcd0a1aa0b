using System.Text;

namespace PixelPing;

/// <summary>
/// An exception as words for a log line. The executable is built without the runtime's resource strings (they would
/// add to its size), so some exceptions carry a bare key such as <c>UnauthorizedAccess_IODenied_Path</c> instead of a
/// sentence: the common file-system ones are said here by their type, an errno by the C library's own text, and any
/// other key is at least split into words.
/// </summary>
internal static class ErrorText
{
    public static string Of(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "the path is too long",
        _ when !IsResourceKey(e.Message) => e.Message.ReplaceLineEndings(" "),
        // Unix I/O errors carry their errno in HResult.
        IOException when e.HResult is > 0 and < 4096 => Libc.Describe(e.HResult),
        _ => Words(e.Message),
    };

    /// <summary>A resource key (letters, digits and underscores, no space), possibly followed by its arguments.</summary>
    private static bool IsResourceKey(string message)
    {
        ReadOnlySpan<char> head = Head(message);
        if (head.Length < 4 || !char.IsAsciiLetterUpper(head[0]))
        {
            return false;
        }

        bool lower = false;
        foreach (char c in head)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }

            lower |= char.IsAsciiLetterLower(c);
        }

        // "Argument_NullCharInPath", "CannotReadIncompleteUTF16": a capital inside the word, which a sentence's first
        // word never has.
        return lower && (head.Contains('_') || head[1..].ContainsAnyInRange('A', 'Z'));
    }

    private static ReadOnlySpan<char> Head(string message)
    {
        int end = message.AsSpan().IndexOfAny(' ', ',');
        return end < 0 ? message : message.AsSpan(0, end);
    }

    /// <summary>"Argument_NullCharInPath" as "null char in path": the last part of the key, split at its capitals.</summary>
    private static string Words(string message)
    {
        ReadOnlySpan<char> head = Head(message);
        int underscore = head.LastIndexOf('_');
        ReadOnlySpan<char> name = underscore >= 0 && underscore < head.Length - 1 ? head[(underscore + 1)..] : head;
        var words = new StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool startsWord = char.IsAsciiLetterUpper(c) && i + 1 < name.Length && char.IsAsciiLetterLower(name[i + 1]);
            if (i > 0 && char.IsAsciiLetterUpper(c) && (startsWord || char.IsAsciiLetterLower(name[i - 1])))
            {
                words.Append(' ');
            }

            // A capital that starts a word is lowered; acronyms ("UTF16") stay as written.
            words.Append(startsWord ? char.ToLowerInvariant(c) : c);
        }

        return words.ToString();
    }
}
