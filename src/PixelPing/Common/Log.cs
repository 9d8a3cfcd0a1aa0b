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
/// <c>time</c>, <c>level</c>, <c>msg</c> and the event's fields, for Loki, Vector, Fluent Bit and jq. Lines are made
/// on the thread that logs and written by one thread behind a bounded queue (<see cref="LogQueue"/>), in the order
/// they were made; the key dump of a 100k-key flush goes as a few large writes instead of one system call per line.
/// </summary>
internal static class Log
{
    private static readonly LogQueue s_queue = new(Console.OpenStandardOutput(), Console.OpenStandardError(), DescribeDropped);
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

    /// <summary>Lines dropped since the start because the queue was full (only lines that may not wait are).</summary>
    public static long DroppedLines => s_queue.DroppedTotal;

    /// <summary>A line on stdout; waits for room in the queue when stdout is behind.</summary>
    public static void Out(string line) => Write(stderr: false, Level.Info, line, wait: true);

    /// <summary>A line on stderr; one starting "pixel-ping: warning: " is a warning in JSON, the rest errors.</summary>
    public static void Error(string line) => Write(stderr: true, LevelOf(line), line, wait: true);

    /// <summary>
    /// <see cref="Out"/> for a thread that must never wait on stdout (an event loop, a signal handler): the line is
    /// dropped and counted when the queue is full, and the count said once the writer has caught up.
    /// </summary>
    public static void OutNoWait(string line) => Write(stderr: false, Level.Info, line, wait: false);

    /// <summary><see cref="Error"/> for a thread that must never wait on stderr (see <see cref="OutNoWait"/>).</summary>
    public static void ErrorNoWait(string line) => Write(stderr: true, LevelOf(line), line, wait: false);

    /// <summary>The process is stopping: from now on the log delays the exit by <see cref="LogQueue.DrainTime"/> at most.</summary>
    public static void BeginExit() => s_queue.BeginExit();

    /// <summary>Before the process exits: writes what is queued, for <see cref="LogQueue.DrainTime"/> at most.</summary>
    public static void Finish() => s_queue.Finish();

    private const string WarningPrefix = "pixel-ping: warning: ";

    private static Level LevelOf(string line) => line.StartsWith(WarningPrefix, StringComparison.Ordinal) ? Level.Warning : Level.Error;

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
        Write(stderr: !delivered, delivered ? Level.Info : Level.Error, line, wait: true, json =>
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
        Write(stderr: false, Level.Info, line, wait: true, json =>
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
    private static void Write(bool stderr, Level level, string line, bool wait, Action<Utf8JsonWriter>? fields = null)
    {
        byte[] bytes = Format(level, line, fields);
        if (wait)
        {
            s_queue.Write(stderr, bytes, bytes.Length, pooled: false);
        }
        else
        {
            s_queue.TryWrite(stderr, bytes, bytes.Length);
        }
    }

    private static byte[] Format(Level level, string line, Action<Utf8JsonWriter>? fields = null)
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
            byte[] escaped = new byte[LogEscape.JsonLength(buffer.WrittenSpan)];
            LogEscape.WriteJson(buffer.WrittenSpan, escaped);
            return escaped;
        }

        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(line) + 1];
        int n = Encoding.UTF8.GetBytes(line, bytes);
        bytes[n] = (byte)'\n';
        return bytes;
    }

    /// <summary>The writer's line, once it has caught up, for the lines the queue had no room for.</summary>
    private static byte[] DescribeDropped(long count)
    {
        string line = count == 1
            ? "--- log: dropped 1 line: stdout or stderr was not keeping up"
            : $"--- log: dropped {count.ToString(System.Globalization.CultureInfo.InvariantCulture)} lines: stdout or stderr was not keeping up";
        return Format(Level.Warning, line, json => json.WriteNumber("dropped"u8, count));
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

        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        int used = 0;
        foreach (KeyValuePair<byte[], long> entry in entries)
        {
            int need = LogEscape.MaxLength(entry.Key.Length) + 24;
            if (buffer.Length - used < need)
            {
                // The flush waits here while stdout is behind: these lines are the original's contract, never dropped.
                s_queue.Write(stderr: false, buffer, used, pooled: true);
                buffer = ArrayPool<byte>.Shared.Rent(Math.Max(ChunkSize, need));
                used = 0;
            }

            entry.Value.TryFormat(buffer.AsSpan(used), out int digits);
            used += digits;
            buffer[used++] = (byte)':';
            buffer[used++] = (byte)'\t';
            // The key is the visitor's: escaped, so it can neither forge a line nor drive a terminal.
            used += LogEscape.Write(entry.Key, buffer.AsSpan(used));
            buffer[used++] = (byte)'\n';
        }

        s_queue.Write(stderr: false, buffer, used, pooled: true);
    }

    // The size of the writes a key dump makes.
    private const int ChunkSize = 64 * 1024;

    private static void JsonKeys(IReadOnlyList<KeyValuePair<byte[], long>> entries)
    {
        var buffer = new ArrayBufferWriter<byte>(ChunkSize);
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
            if (buffer.WrittenCount >= ChunkSize - 4 * 1024 || i == entries.Count - 1)
            {
                byte[] chunk = ArrayPool<byte>.Shared.Rent(LogEscape.JsonLength(buffer.WrittenSpan));
                int length = LogEscape.WriteJson(buffer.WrittenSpan, chunk);
                s_queue.Write(stderr: false, chunk, length, pooled: true);
                buffer.ResetWrittenCount();
            }
        }
    }
}
