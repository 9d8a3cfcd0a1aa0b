using PixelPing.Interop;

namespace PixelPing.Common;

/// <summary>
/// An exception as the few words after "&lt;file&gt;: " in a log line or a startup error. The caller names the file,
/// so the common file-system failures are said without repeating the path the runtime's own sentence holds, an errno
/// by the C library's text, and anything else by the runtime's message on one line.
/// </summary>
internal static class ErrorText
{
    public static string Of(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "the path is too long",
        // Unix I/O errors carry their errno in HResult.
        IOException when e.HResult is > 0 and < 4096 => Libc.Describe(e.HResult),
        _ => e.Message.ReplaceLineEndings(" "),
    };
}
