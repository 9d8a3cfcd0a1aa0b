using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Unicode;
using PixelPing.Filtering;

namespace PixelPing.Common;

/// <summary>
/// stdout and stderr. As text (the default), lines are exactly the original's: one per event, no timestamps or levels
/// (receivers' scripts grep these lines). With <c>"logformat": "json"</c> every line is one JSON object with
/// <c>time</c>, <c>level</c>, <c>msg</c> and the event's fields, for Loki, Vector, Fluent Bit and jq. Writes go
/// straight to the standard streams as UTF-8 under one lock, so the key dump of a 100k-key flush is a few large
/// writes instead of one system call per line.
/// </summary>
internal static class Log
{
    private static readonly Lock s_lock = new();
    private static readonly Stream s_out = Console.OpenStandardOutput();
    private static readonly Stream s_err = Console.OpenStandardError();
    private static bool s_json;

    // Relaxed: the lines go to log pipelines, not into HTML, so a key's "<", "&" or "é" stays as it is.
    private static readonly JsonWriterOptions s_jsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private enum Level : byte
    {
        Info,
        Warning,
        Error,
    }

    /// <summary>Switches every later line to JSON objects (set once, from the config, before the server starts).</summary>
    public static void UseJson() => s_json = true;

    public static void Out(string line) => Write(s_out, Level.Info, line);

    /// <summary>A line on stderr; one starting "pixel-ping: warning: " is a warning in JSON, the rest errors.</summary>
    public static void Error(string line) => Write(s_err, line.StartsWith(WarningPrefix, StringComparison.Ordinal) ? Level.Warning : Level.Error, line);

    private const string WarningPrefix = "pixel-ping: warning: ";

    /// <summary>One line each, as warnings (a problem the program carries on despite).</summary>
    public static void Warnings(IEnumerable<string> warnings)
    {
        foreach (string warning in warnings)
        {
            Error(WarningPrefix + warning);
        }
    }

    /// <summary>
    /// The outcome of one POST to the endpoint: the original's line as text (<paramref name="line"/>, on stdout when
    /// delivered, stderr when not); in JSON with the HTTP status (null when no answer came), the batch's hits and
    /// id, and how long it took.
    /// </summary>
    public static void FlushResult(string line, bool delivered, int? status, long hits, string batch, double durationMs)
    {
        Write(delivered ? s_out : s_err, delivered ? Level.Info : Level.Error, line, json =>
        {
            if (status is int code)
            {
                json.WriteNumber("status"u8, code);
            }
            else
            {
                json.WriteNull("status"u8);
            }

            json.WriteNumber("hits"u8, hits);
            json.WriteString("batch"u8, batch);
            json.WriteNumber("duration_ms"u8, Math.Round(durationMs, 3));
        });
    }

    /// <summary>
    /// The flush's <c>--- ignored 5 hits: 3 bot, 2 prefetch</c> on stdout, nothing when no hit was ignored; in JSON
    /// also the total and one number per reason that happened: <c>"ignored":5,"reasons":{"bot":3,"prefetch":2}</c>.
    /// </summary>
    public static void Ignored(in IgnoredHits ignored)
    {
        if (ignored.Describe() is not { } line)
        {
            return;
        }

        IgnoredHits tally = ignored;
        Write(s_out, Level.Info, line, json =>
        {
            json.WriteNumber("ignored"u8, tally.Total);
            json.WriteStartObject("reasons"u8);
            foreach (IgnoreReason reason in Enum.GetValues<IgnoreReason>())
            {
                if (reason != IgnoreReason.None && tally[reason] > 0)
                {
                    json.WriteNumber(IgnoredHits.Name(reason), tally[reason]);
                }
            }

            json.WriteEndObject();
        });
    }

    /// <summary>One line: the text as it is, or in JSON the usual fields and whatever <paramref name="fields"/> adds.</summary>
    private static void Write(Stream stream, Level level, string line, Action<Utf8JsonWriter>? fields = null)
    {
        if (s_json)
        {
            var buffer = new ArrayBufferWriter<byte>(128 + line.Length);
            using (var json = new Utf8JsonWriter(buffer, s_jsonOptions))
            {
                Start(json, level, Message(line));
                fields?.Invoke(json);
                json.WriteEndObject();
            }

            buffer.Write("\n"u8);
            WriteBytes(stream, buffer.WrittenSpan);
            return;
        }

        int max = Encoding.UTF8.GetMaxByteCount(line.Length) + 1;
        byte[] bytes = new byte[max];
        int n = Encoding.UTF8.GetBytes(line, bytes);
        bytes[n++] = (byte)'\n';
        WriteBytes(stream, bytes.AsSpan(0, n));
    }

    private static void WriteBytes(Stream stream, ReadOnlySpan<byte> bytes)
    {
        lock (s_lock)
        {
            try
            {
                stream.Write(bytes);
                stream.Flush();
            }
            catch (IOException)
            {
                // A closed stdout (the supervisor went away) must not take the server down with it.
            }
        }
    }

    private static void Start(Utf8JsonWriter json, Level level, ReadOnlySpan<char> message)
    {
        // RFC 3339 in UTC, to the millisecond: 2026-12-01T14:17:19.123Z.
        Span<byte> time = stackalloc byte[32];
        DateTime.UtcNow.TryFormat(time, out int length, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        json.WriteStartObject();
        json.WriteString("time"u8, time[..length]);
        json.WriteString("level"u8, level switch
        {
            Level.Warning => "warning"u8,
            Level.Error => "error"u8,
            _ => "info"u8,
        });
        json.WriteString("msg"u8, message);
    }

    /// <summary>The text line without the decorations a JSON field makes redundant ("--- x ---", "pixel-ping: warning: ").</summary>
    private static ReadOnlySpan<char> Message(string line)
    {
        ReadOnlySpan<char> message = line;
        if (message.StartsWith("pixel-ping: "))
        {
            message = message["pixel-ping: ".Length..];
            if (message.StartsWith("warning: "))
            {
                message = message["warning: ".Length..];
            }
        }

        if (message.StartsWith("--- "))
        {
            message = message[4..];
            if (message.EndsWith(" ---"))
            {
                message = message[..^4];
            }
        }

        return message;
    }

    /// <summary>
    /// One line per key before every flush: <c>&lt;count&gt;:\t&lt;key&gt;</c> as pixel-ping 0.1.6 writes it, with the
    /// key's control and bidirectional characters escaped (<see cref="LogEscape"/>), or in JSON
    /// <c>{"time":…,"level":"info","msg":"key","key":"…","count":n}</c> with the key as a JSON string.
    /// </summary>
    public static void Keys(IReadOnlyList<KeyValuePair<byte[], long>> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }

        if (s_json)
        {
            JsonKeys(entries);
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

    private static void JsonKeys(IReadOnlyList<KeyValuePair<byte[], long>> entries)
    {
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        using var json = new Utf8JsonWriter(buffer, s_jsonOptions);
        for (int i = 0; i < entries.Count; i++)
        {
            (byte[] key, long count) = entries[i];
            Start(json, Level.Info, "key");
            if (Utf8.IsValid(key))
            {
                json.WriteString("key"u8, key);
            }
            else
            {
                // The decoder only makes valid UTF-8; should a key not be, its invalid bytes show as U+FFFD.
                json.WriteString("key"u8, Encoding.UTF8.GetString(key));
            }

            json.WriteNumber("count"u8, count);
            json.WriteEndObject();
            json.Flush();
            buffer.Write("\n"u8);
            json.Reset();
            if (buffer.WrittenCount >= 60 * 1024 || i == entries.Count - 1)
            {
                WriteBytes(s_out, buffer.WrittenSpan);
                buffer.ResetWrittenCount();
            }
        }
    }
}
