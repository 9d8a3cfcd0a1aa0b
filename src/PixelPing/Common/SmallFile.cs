using System.Globalization;

namespace PixelPing.Common;

/// <summary>Why <see cref="SmallFile.TryRead"/> gave up.</summary>
internal enum SmallFileError
{
    None,
    TooLarge,
    Unreadable,
}

/// <summary>
/// Reads a small file whole (the config, a certificate or key) with a size limit, and turns every way that can fail
/// into a few words for a one-line startup error instead of an exception.
/// </summary>
internal static class SmallFile
{
    public static SmallFileError TryRead(string path, int maxBytes, out byte[] bytes, out int length, out string reason)
    {
        bytes = [];
        length = 0;
        reason = "";
        if (path.Length == 0)
        {
            reason = "the path is empty";
            return SmallFileError.Unreadable;
        }

        try
        {
            // Opening a directory succeeds on some systems and fails with "access denied" on others; say what it is.
            if (Directory.Exists(path))
            {
                reason = "it is a directory";
                return SmallFileError.Unreadable;
            }

            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            if (stream.CanSeek && stream.Length > maxBytes)
            {
                reason = string.Create(CultureInfo.InvariantCulture, $"it is larger than {Describe(maxBytes)} ({stream.Length} bytes)");
                return SmallFileError.TooLarge;
            }

            // Read to the end rather than trusting Length (a pipe or /proc file reports 0), never past the limit.
            bytes = new byte[stream.CanSeek ? (int)stream.Length + 1 : 4096];
            while (true)
            {
                if (length == bytes.Length)
                {
                    if (length > maxBytes)
                    {
                        reason = $"it is larger than {Describe(maxBytes)}";
                        return SmallFileError.TooLarge;
                    }

                    Array.Resize(ref bytes, (int)Math.Min(bytes.Length * 2L, maxBytes + 1L));
                }

                int read = stream.Read(bytes, length, bytes.Length - length);
                if (read == 0)
                {
                    return SmallFileError.None;
                }

                length += read;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            reason = ErrorText.Of(e);
        }

        return SmallFileError.Unreadable;
    }

    private static string Describe(int bytes) =>
        bytes % (1 << 20) == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes >> 20} MiB") : string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes");
}
