using System.Text;

namespace PixelPing;

/// <summary>
/// stdout and stderr as the original wrote them: one line per event, no timestamps or levels (receivers' scripts
/// grep these lines). Writes go straight to the standard streams as UTF-8 under one lock, so the key dump of a
/// 100k-key flush is a few large writes instead of one system call per line.
/// </summary>
internal static class Log
{
    private static readonly Lock s_lock = new();
    private static Stream s_out = Console.OpenStandardOutput();
    private static Stream s_err = Console.OpenStandardError();

    /// <summary>Redirects both streams (tests read what the server logs).</summary>
    internal static void Redirect(Stream stdout, Stream stderr)
    {
        lock (s_lock)
        {
            s_out = stdout;
            s_err = stderr;
        }
    }

    public static void Out(string line) => Write(s_out, line);

    public static void Error(string line) => Write(s_err, line);

    private static void Write(Stream stream, string line)
    {
        int max = Encoding.UTF8.GetMaxByteCount(line.Length) + 1;
        byte[] bytes = new byte[max];
        int n = Encoding.UTF8.GetBytes(line, bytes);
        bytes[n++] = (byte)'\n';
        lock (s_lock)
        {
            try
            {
                stream.Write(bytes, 0, n);
                stream.Flush();
            }
            catch (IOException)
            {
                // A closed stdout (the supervisor went away) must not take the server down with it.
            }
        }
    }

    /// <summary>
    /// Writes <c>&lt;count&gt;:\t&lt;key&gt;</c> per key, as pixel-ping 0.1.6 does before every flush, with the key's
    /// control and bidirectional characters escaped (<see cref="LogEscape"/>).
    /// </summary>
    public static void Keys(IReadOnlyList<KeyValuePair<byte[], long>> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }

        byte[] buffer = new byte[64 * 1024];
        int used = 0;
        lock (s_lock)
        {
            try
            {
                foreach (KeyValuePair<byte[], long> entry in entries)
                {
                    int need = LogEscape.MaxLength(entry.Key.Length) + 24;
                    if (buffer.Length - used < need)
                    {
                        s_out.Write(buffer, 0, used);
                        used = 0;
                        if (buffer.Length < need)
                        {
                            buffer = new byte[need];
                        }
                    }

                    entry.Value.TryFormat(buffer.AsSpan(used), out int digits);
                    used += digits;
                    buffer[used++] = (byte)':';
                    buffer[used++] = (byte)'\t';
                    // The key is the visitor's: escaped, so it can neither forge a line nor drive a terminal.
                    used += LogEscape.Write(entry.Key, buffer.AsSpan(used));
                    buffer[used++] = (byte)'\n';
                }

                s_out.Write(buffer, 0, used);
                s_out.Flush();
            }
            catch (IOException)
            {
            }
        }
    }
}
