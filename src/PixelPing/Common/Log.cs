using System.Text;

namespace PixelPing.Common;

/// <summary>
/// stdout and stderr as the original wrote them: one line per event, no timestamps or levels (receivers' scripts
/// grep these lines). Writes go straight to the standard streams as UTF-8 under one lock, so the key dump of a
/// 100k-key flush is a few large writes instead of one system call per line.
/// </summary>
internal static class Log
{
    private static readonly Lock s_lock = new();
    private static readonly Stream s_out = Console.OpenStandardOutput();
    private static readonly Stream s_err = Console.OpenStandardError();

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

    /// <summary>Writes <c>&lt;count&gt;:\t&lt;key&gt;</c> per key, as pixel-ping 0.1.6 does before every flush.</summary>
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
                    int need = entry.Key.Length + 24;
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
                    entry.Key.CopyTo(buffer, used);
                    used += entry.Key.Length;
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
