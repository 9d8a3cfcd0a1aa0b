using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using static System.FormattableString;

namespace PixelPing.Flushing;

/// <summary>
/// The spool file's contents, apart from the file: our own line format, readable with <c>less</c>:
/// <code>
/// pixel-ping spool 2
/// batch &lt;id&gt; &lt;keys&gt; &lt;hits&gt; &lt;from&gt; &lt;to&gt;   (from, to: the first and last hit's Unix seconds)
/// &lt;count&gt; &lt;key, percent-encoded&gt;        (one line per key)
/// …                                  (more batches, in the order they are to be sent)
/// end &lt;SHA-256 of every byte above this line, hex&gt;
/// </code>
/// Keys are arbitrary bytes: every byte outside <c>A–Z a–z 0–9 - . _ ~ : /</c> is written as <c>%XX</c>, so a key
/// never holds a space or a line break and reads back byte for byte. The checksum line makes a truncated or altered
/// file detectable: such a file is refused whole, never half-read. <see cref="Spool"/> does the file operations.
/// <para>
/// Version 1 (<c>pixel-ping spool 1</c>, batch lines without from and to) is still read: its batches get the time the
/// file was last written as both their from and to. That is after every hit in it and, for the stop that wrote it, at
/// most an interval after them: the nearest known time, and the day their counts go to.
/// </para>
/// </summary>
internal static class SpoolFormat
{
    private const string Magic = "pixel-ping spool 2";
    private const string MagicVersion1 = "pixel-ping spool 1";
    private const int MaxLineBytes = 1 << 20;
    private const int MaxIdLength = 128;

    // Bytes written as themselves; everything else is %XX. Safe in a line-and-space format and in a shell.
    private static readonly SearchValues<byte> s_plain =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/"u8);

    private static readonly SearchValues<char> s_idChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");

    /// <summary>True when the id can be written on a spool line (ids this server makes always can).</summary>
    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= MaxIdLength && !id.AsSpan().ContainsAnyExcept(s_idChars);

    /// <summary>Writes the batches, in order, and the checksum line; an id that cannot be spooled throws <see cref="ArgumentException"/>.</summary>
    public static void Write(IReadOnlyList<Batch> batches, Stream output)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var line = new ArrayBufferWriter<byte>(4096);
        line.Write(Encoding.ASCII.GetBytes(Magic));
        EndLine(output, hash, line);
        foreach (Batch batch in batches)
        {
            if (!IsValidId(batch.Id))
            {
                throw new ArgumentException("batch id cannot be spooled: " + batch.Id);
            }

            line.Write(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                $"batch {batch.Id} {batch.Entries.Length} {batch.Hits} {batch.From} {batch.To}")));
            EndLine(output, hash, line);
            foreach (KeyValuePair<byte[], long> entry in batch.Entries)
            {
                Span<byte> digits = line.GetSpan(24);
                entry.Value.TryFormat(digits, out int length, default, CultureInfo.InvariantCulture);
                digits[length++] = (byte)' ';
                line.Advance(length);
                EncodeKey(entry.Key, line);
                EndLine(output, hash, line);
            }
        }

        output.Write(Encoding.ASCII.GetBytes("end " + Convert.ToHexStringLower(hash.GetHashAndReset()) + "\n"));
    }

    /// <summary>
    /// Reads every batch, or none: false and one line of reason when the text is not a whole, unaltered spool file.
    /// Only the stream's own errors (<see cref="IOException"/>) are thrown. <paramref name="savedAt"/> (Unix seconds)
    /// is when the file was last written: the from and to of a version 1 file's batches.
    /// </summary>
    public static bool TryRead(Stream input, List<Batch> batches, out string problem, long savedAt)
    {
        if (Parse(new LineReader(input), batches, out problem, savedAt))
        {
            return true;
        }

        batches.Clear();
        return false;
    }

    private static void EndLine(Stream output, IncrementalHash hash, ArrayBufferWriter<byte> line)
    {
        line.Write("\n"u8);
        hash.AppendData(line.WrittenSpan);
        output.Write(line.WrittenSpan);
        line.ResetWrittenCount();
    }

    private static bool Parse(LineReader reader, List<Batch> batches, out string problem, long savedAt)
    {
        problem = "";
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        LineStatus status = reader.Next(out ReadOnlySpan<byte> line);
        if (status == LineStatus.End)
        {
            problem = "the file is empty";
            return false;
        }

        bool version1 = status == LineStatus.Line && line.SequenceEqual(Encoding.ASCII.GetBytes(MagicVersion1));
        if (status != LineStatus.Line || (!version1 && !line.SequenceEqual(Encoding.ASCII.GetBytes(Magic))))
        {
            problem = "it does not start with \"" + Magic + "\" (or \"" + MagicVersion1 + "\")";
            return false;
        }

        hash.AppendData(line);
        hash.AppendData("\n"u8);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long lineNumber = 1;
        while (true)
        {
            status = reader.Next(out line);
            lineNumber++;
            if (status != LineStatus.Line)
            {
                problem = status == LineStatus.TooLong
                    ? Invariant($"line {lineNumber} is longer than {MaxLineBytes} bytes")
                    : Invariant($"it is truncated: no \"end\" line after line {lineNumber - 1}");
                return false;
            }

            if (line.StartsWith("end "u8))
            {
                byte[] expected = hash.GetHashAndReset();
                if (!TryParseHash(line[4..], out byte[] actual) || !actual.AsSpan().SequenceEqual(expected))
                {
                    problem = Invariant($"the checksum on line {lineNumber} does not match its contents");
                    return false;
                }

                if (reader.Next(out _) != LineStatus.End)
                {
                    problem = Invariant($"there is data after the \"end\" line (line {lineNumber})");
                    return false;
                }

                return true;
            }

            hash.AppendData(line);
            hash.AppendData("\n"u8);
            long from = savedAt;
            long to = savedAt;
            if (!TryParseBatchLine(line, version1, out string id, out int keys, out long hits, ref from, ref to))
            {
                problem = version1
                    ? Invariant($"line {lineNumber} should be \"batch <id> <keys> <hits>\"")
                    : Invariant($"line {lineNumber} should be \"batch <id> <keys> <hits> <from> <to>\" with from <= to on one UTC day");
                return false;
            }

            if (!seen.Add(id))
            {
                problem = Invariant($"batch {id} appears twice (line {lineNumber})");
                return false;
            }

            // The count comes from the file: never trust it for an allocation before the lines prove it.
            var entries = new List<KeyValuePair<byte[], long>>(Math.Min(keys, 4096));
            var keySet = new HashSet<byte[]>(Counting.KeyComparer.Instance);
            for (int i = 0; i < keys; i++)
            {
                status = reader.Next(out line);
                lineNumber++;
                if (status != LineStatus.Line)
                {
                    problem = Invariant($"it is truncated inside batch {id} (line {lineNumber})");
                    return false;
                }

                hash.AppendData(line);
                hash.AppendData("\n"u8);
                if (!TryParseEntry(line, out byte[] key, out long count) || !keySet.Add(key))
                {
                    problem = Invariant($"line {lineNumber} should be \"<count> <key>\" with a new key");
                    return false;
                }

                entries.Add(new KeyValuePair<byte[], long>(key, count));
            }

            var batch = new Batch(id, [.. entries]) { From = from, To = to };
            if (batch.Hits != hits)
            {
                problem = Invariant($"batch {id} says {hits} hits but its lines add up to {batch.Hits}");
                return false;
            }

            batches.Add(batch);
        }
    }

    private static bool TryParseBatchLine(ReadOnlySpan<byte> line, bool version1, out string id, out int keys, out long hits,
        ref long from, ref long to)
    {
        id = "";
        keys = 0;
        hits = 0;
        if (!line.StartsWith("batch "u8))
        {
            return false;
        }

        line = line[6..];
        int space = line.IndexOf((byte)' ');
        if (space <= 0)
        {
            return false;
        }

        id = Encoding.ASCII.GetString(line[..space]);
        line = line[(space + 1)..];
        space = line.IndexOf((byte)' ');
        if (!IsValidId(id) || space <= 0
            || !AsciiDigits.TryParseDecimal(line[..space], out long keyCount) || keyCount > Array.MaxLength)
        {
            return false;
        }

        keys = (int)keyCount;
        line = line[(space + 1)..];
        if (version1)
        {
            return AsciiDigits.TryParseDecimal(line, out hits);
        }

        // Version 2: then the first and last hit, on one UTC day (a batch never spans two).
        space = line.IndexOf((byte)' ');
        if (space <= 0 || !AsciiDigits.TryParseDecimal(line[..space], out hits))
        {
            return false;
        }

        line = line[(space + 1)..];
        space = line.IndexOf((byte)' ');
        return space > 0
            && AsciiDigits.TryParseDecimal(line[..space], out from) && AsciiDigits.TryParseDecimal(line[(space + 1)..], out to)
            && from <= to && from / 86400 == to / 86400;
    }

    private static bool TryParseEntry(ReadOnlySpan<byte> line, out byte[] key, out long count)
    {
        key = [];
        count = 0;
        int space = line.IndexOf((byte)' ');
        return space > 0 && AsciiDigits.TryParseDecimal(line[..space], out count) && count > 0 && TryDecodeKey(line[(space + 1)..], out key);
    }

    private static void EncodeKey(ReadOnlySpan<byte> key, ArrayBufferWriter<byte> output)
    {
        while (!key.IsEmpty)
        {
            int special = key.IndexOfAnyExcept(s_plain);
            int plain = special < 0 ? key.Length : special;
            output.Write(key[..plain]);
            if (special < 0)
            {
                return;
            }

            PercentEncoding.WriteEscape(key[special], output.GetSpan(3));
            output.Advance(3);
            key = key[(special + 1)..];
        }
    }

    private static bool TryDecodeKey(ReadOnlySpan<byte> encoded, out byte[] key)
    {
        key = [];
        var decoded = new byte[encoded.Length];
        int n = 0;
        for (int i = 0; i < encoded.Length; i++)
        {
            byte b = encoded[i];
            if (b == (byte)'%')
            {
                // Upper-case digits only, as EncodeKey writes them: anything else was not written by us.
                if (!PercentEncoding.TryDecodeEscape(encoded[i..], upperCaseOnly: true, out decoded[n++]))
                {
                    return false;
                }

                i += 2;
            }
            else if (s_plain.Contains(b))
            {
                decoded[n++] = b;
            }
            else
            {
                return false;
            }
        }

        key = decoded.AsSpan(0, n).ToArray();
        return true;
    }

    private static bool TryParseHash(ReadOnlySpan<byte> text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length != 64)
        {
            return false;
        }

        try
        {
            bytes = Convert.FromHexString(Encoding.ASCII.GetString(text));
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private enum LineStatus : byte
    {
        Line,

        /// <summary>Nothing more: the previous line was the last.</summary>
        End,

        /// <summary>The text ends in the middle of a line (a write cut short).</summary>
        Partial,
        TooLong,
    }

    /// <summary>Splits a stream into lines ending in '\n', without decoding, holding at most one line at a time.</summary>
    private sealed class LineReader(Stream stream)
    {
        private byte[] _buffer = new byte[1 << 16];
        private int _start;
        private int _end;
        private bool _eof;

        public LineStatus Next(out ReadOnlySpan<byte> line)
        {
            line = default;
            int scanned = 0;
            while (true)
            {
                int newline = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf((byte)'\n');
                if (newline >= 0)
                {
                    int length = scanned + newline;
                    line = _buffer.AsSpan(_start, length);
                    _start += length + 1;
                    return LineStatus.Line;
                }

                scanned = _end - _start;
                if (_eof)
                {
                    return scanned == 0 ? LineStatus.End : LineStatus.Partial;
                }

                if (scanned >= MaxLineBytes)
                {
                    return LineStatus.TooLong;
                }

                if (_start > 0)
                {
                    Buffer.BlockCopy(_buffer, _start, _buffer, 0, scanned);
                    _end = scanned;
                    _start = 0;
                }

                if (_end == _buffer.Length)
                {
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                }

                int read = stream.Read(_buffer, _end, _buffer.Length - _end);
                if (read == 0)
                {
                    _eof = true;
                }

                _end += read;
            }
        }
    }
}
