using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;
using static System.FormattableString;

namespace PixelPing.Flushing;

/// <summary>A batch as the spool file holds it: its id and its counts (the body is encoded again when loaded).</summary>
internal sealed record SpooledBatch(string Id, KeyValuePair<byte[], long>[] Entries);

internal enum SpoolLoadStatus : byte
{
    /// <summary>No spool file: a first start, or everything was delivered.</summary>
    Missing,
    Loaded,

    /// <summary>The file exists but cannot be trusted: truncated, altered, or not a spool file at all.</summary>
    Corrupt,
}

/// <summary>
/// The spool file: every batch taken from memory that the endpoint has not accepted yet, so that a restart sends it
/// again with its original id. The format is our own line format, readable with <c>less</c>:
/// <code>
/// pixel-ping spool 1
/// batch &lt;id&gt; &lt;keys&gt; &lt;hits&gt;
/// &lt;count&gt; &lt;key, percent-encoded&gt;        (one line per key)
/// …                                  (more batches, in the order they are to be sent)
/// end &lt;SHA-256 of every byte above this line, hex&gt;
/// </code>
/// Keys are arbitrary bytes: every byte outside <c>A–Z a–z 0–9 - . _ ~ : /</c> is written as <c>%XX</c>, so a key
/// never holds a space or a line break and reads back byte for byte. The checksum line makes a truncated or altered
/// file detectable: such a file is moved aside, never half-loaded.
/// </summary>
/// <remarks>
/// Writes are atomic (temporary file, fsync, rename over the old file, fsync of the directory), so a crash at any
/// point leaves either the old complete file or the new complete file. The file is the user's alone (mode 0600), and
/// no link at either path is ever followed: the file holds every key, and a link planted beside it must not turn a
/// flush into a write to some other file.
/// </remarks>
internal sealed class Spool
{
    private const string Magic = "pixel-ping spool 1";
    private const int MaxLineBytes = 1 << 20;
    private const int MaxIdLength = 128;

    // Bytes written as themselves; everything else is %XX. Safe in a line-and-space format and in a shell.
    private static readonly SearchValues<byte> s_plain =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/"u8);

    private static readonly SearchValues<char> s_idChars =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~");

    private readonly Lock _writeLock = new();
    private bool _closed;

    public Spool(string path)
    {
        Path = LogEscape.Text(path);
        FullPath = System.IO.Path.GetFullPath(path);
        Directory = System.IO.Path.GetDirectoryName(FullPath) ?? "/";
    }

    /// <summary>The path as configured, escaped for a log line (what log lines show).</summary>
    public string Path { get; }

    public string FullPath { get; }

    public string Directory { get; }

    /// <summary>True when the id can be written on a spool line (ids this server makes always can).</summary>
    public static bool IsValidId(string id) =>
        id.Length is > 0 and <= MaxIdLength && !id.AsSpan().ContainsAnyExcept(s_idChars);

    /// <summary>
    /// Replaces the file with these batches, atomically; with none, removes the file. Returns false and one line of
    /// reason when the disk refused (full, read-only, the directory gone): the caller logs it and carries on.
    /// </summary>
    public bool TrySave(IReadOnlyList<SpooledBatch> batches, out string error)
    {
        // One writer at a time: the flush loop and the exit path of a second stop signal may both save.
        lock (_writeLock)
        {
            if (_closed)
            {
                error = "the process is exiting and has written its last spool file";
                return false;
            }

            return TrySaveLocked(batches, out error);
        }
    }

    /// <summary>Saves these batches, then refuses every later save: what the process leaves behind when it exits at once.</summary>
    public bool TrySaveLast(IReadOnlyList<SpooledBatch> batches, out string error)
    {
        lock (_writeLock)
        {
            _closed = true;
            return TrySaveLocked(batches, out error);
        }
    }

    private bool TrySaveLocked(IReadOnlyList<SpooledBatch> batches, out string error)
    {
        error = "";
        string temporary = FullPath + ".tmp";
        try
        {
            if (batches.Count == 0)
            {
                File.Delete(FullPath);
                return true;
            }

            using (FileStream file = CreateTemporary(temporary))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var line = new ArrayBufferWriter<byte>(4096);
                WriteLine(file, hash, line, Encoding.ASCII.GetBytes(Magic));
                foreach (SpooledBatch batch in batches)
                {
                    if (!IsValidId(batch.Id))
                    {
                        throw new ArgumentException("batch id cannot be spooled: " + batch.Id);
                    }

                    long hits = 0;
                    foreach (KeyValuePair<byte[], long> entry in batch.Entries)
                    {
                        hits += entry.Value;
                    }

                    WriteLine(file, hash, line, Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                        $"batch {batch.Id} {batch.Entries.Length} {hits}")));
                    foreach (KeyValuePair<byte[], long> entry in batch.Entries)
                    {
                        line.ResetWrittenCount();
                        Span<byte> digits = line.GetSpan(24);
                        entry.Value.TryFormat(digits, out int length, default, CultureInfo.InvariantCulture);
                        digits[length++] = (byte)' ';
                        line.Advance(length);
                        EncodeKey(entry.Key, line);
                        WriteLine(file, hash, line, ReadOnlySpan<byte>.Empty, reset: false);
                    }
                }

                byte[] end = Encoding.ASCII.GetBytes("end " + Convert.ToHexStringLower(hash.GetHashAndReset()) + "\n");
                file.Write(end);
                // fsync before the rename: the new name must never point at data still only in the page cache.
                file.Flush(flushToDisk: true);
            }

            // rename(2) replaces the directory entry: a link planted at the spool path is replaced, never written through.
            File.Move(temporary, FullPath, overwrite: true);
            SyncDirectory(Directory);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }

            error = ErrorText.Of(e);
            return false;
        }
    }

    /// <summary>
    /// The temporary file, new and ours alone: a stale one (a crash mid-write, or a link someone planted there) is
    /// unlinked first, which removes a link itself and never what it points to; then the file is created exclusively
    /// (O_EXCL: nothing may have appeared meanwhile), not through a link (O_NOFOLLOW), readable by this user only.
    /// </summary>
    private static FileStream CreateTemporary(string temporary)
    {
        File.Delete(temporary);
        int fd = Libc.open(Libc.Path(temporary),
            Libc.OpenWriteOnly | Libc.OpenCreate | Libc.OpenExclusive | Libc.OpenNoFollow | Libc.OpenCloseOnExec, FileMode0600);
        if (fd < 0)
        {
            throw new IOException($"cannot create {temporary}: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        }

        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, 1 << 16);
    }

    /// <summary>
    /// Why the spool file could not be written where it is configured, or null when it can: the path must not be a
    /// directory, and its directory must exist and be writable by this process (checked by <c>--check</c> and at start, before the first save needs it).
    /// </summary>
    public string? CheckDirectory()
    {
        if (System.IO.Directory.Exists(FullPath))
        {
            return $"{Path} is a directory, not a file path; undelivered hits cannot be saved";
        }

        if (!System.IO.Directory.Exists(Directory))
        {
            return $"the directory of {Path} does not exist; undelivered hits cannot be saved";
        }

        if (Libc.access(Libc.Path(Directory), Libc.WriteOk | Libc.ExecuteOk) != 0)
        {
            return $"the directory of {Path} is not writable by this process ({Libc.Describe(Marshal.GetLastPInvokeError())}); undelivered hits cannot be saved";
        }

        return null;
    }

    /// <summary>Reads the file. Never throws: an unreadable or inconsistent file is <see cref="SpoolLoadStatus.Corrupt"/>.</summary>
    public SpoolLoadStatus Load(out List<SpooledBatch> batches, out string problem)
    {
        batches = [];
        problem = "";
        // Not through a link: a link planted at the spool path is refused (and moved aside), never read or followed.
        int fd = Libc.open(Libc.Path(FullPath), Libc.OpenReadOnly | Libc.OpenNoFollow | Libc.OpenCloseOnExec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is ENOENT or ENOTDIR)
            {
                return SpoolLoadStatus.Missing;
            }

            problem = errno == Libc.ELOOP ? "it is a symbolic link, not a file" : "cannot open it: " + Libc.Describe(errno);
            return SpoolLoadStatus.Corrupt;
        }

        var file = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, 1 << 16);

        using (file)
        {
            try
            {
                if (Parse(new LineReader(file), batches, out problem))
                {
                    return SpoolLoadStatus.Loaded;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = "cannot read it: " + ErrorText.Of(e);
            }

            batches.Clear();
            return SpoolLoadStatus.Corrupt;
        }
    }

    /// <summary>
    /// Renames a corrupt file to <c>&lt;path&gt;.corrupt-&lt;UTC time&gt;</c> (never over an older one) so that it is
    /// kept for a person to look at and is not overwritten by the next save. Returns the new path, or null and why not.
    /// </summary>
    public string? MoveAside(DateTime utcNow, out string error)
    {
        error = "";
        string stem = FullPath + ".corrupt-" + utcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        for (int attempt = 0; attempt < 100; attempt++)
        {
            string target = attempt == 0 ? stem : stem + "-" + attempt.ToString(CultureInfo.InvariantCulture);
            if (File.Exists(target))
            {
                continue;
            }

            try
            {
                File.Move(FullPath, target, overwrite: false);
                SyncDirectory(Directory);
                return target;
            }
            catch (IOException) when (File.Exists(target))
            {
                // Someone else took the name between the check and the move: try the next one.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = ErrorText.Of(e);
                return null;
            }
        }

        error = "too many corrupt spool files beside it";
        return null;
    }

    private static bool Parse(LineReader reader, List<SpooledBatch> batches, out string problem)
    {
        problem = "";
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        LineStatus status = reader.Next(out ReadOnlySpan<byte> line);
        if (status == LineStatus.End)
        {
            problem = "the file is empty";
            return false;
        }

        if (status != LineStatus.Line || !line.SequenceEqual(Encoding.ASCII.GetBytes(Magic)))
        {
            problem = "it does not start with \"" + Magic + "\"";
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
                if (!TryParseHex(line[4..], out byte[] actual) || !actual.AsSpan().SequenceEqual(expected))
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
            if (!TryParseBatchLine(line, out string id, out int keys, out long hits))
            {
                problem = Invariant($"line {lineNumber} should be \"batch <id> <keys> <hits>\"");
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
            long sum = 0;
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

                sum += count;
                entries.Add(new KeyValuePair<byte[], long>(key, count));
            }

            if (sum != hits)
            {
                problem = Invariant($"batch {id} says {hits} hits but its lines add up to {sum}");
                return false;
            }

            batches.Add(new SpooledBatch(id, [.. entries]));
        }
    }

    private static bool TryParseBatchLine(ReadOnlySpan<byte> line, out string id, out int keys, out long hits)
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
            || !TryParseCount(line[..space], out long keyCount) || keyCount > Array.MaxLength
            || !TryParseCount(line[(space + 1)..], out hits))
        {
            return false;
        }

        keys = (int)keyCount;
        return true;
    }

    private static bool TryParseEntry(ReadOnlySpan<byte> line, out byte[] key, out long count)
    {
        key = [];
        count = 0;
        int space = line.IndexOf((byte)' ');
        return space > 0 && TryParseCount(line[..space], out count) && count > 0 && TryDecodeKey(line[(space + 1)..], out key);
    }

    // Decimal digits only (no sign, no spaces), as TrySave writes them.
    private static bool TryParseCount(ReadOnlySpan<byte> digits, out long value)
    {
        value = 0;
        if (digits.IsEmpty || digits.Length > 19)
        {
            return false;
        }

        foreach (byte digit in digits)
        {
            if (digit is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (digit - '0');
        }

        return value >= 0;
    }

    private static void EncodeKey(ReadOnlySpan<byte> key, ArrayBufferWriter<byte> output)
    {
        ReadOnlySpan<byte> hex = "0123456789ABCDEF"u8;
        while (!key.IsEmpty)
        {
            int special = key.IndexOfAnyExcept(s_plain);
            int plain = special < 0 ? key.Length : special;
            output.Write(key[..plain]);
            if (special < 0)
            {
                return;
            }

            Span<byte> escape = output.GetSpan(3);
            byte value = key[special];
            escape[0] = (byte)'%';
            escape[1] = hex[value >> 4];
            escape[2] = hex[value & 0xF];
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
                if (i + 2 >= encoded.Length || !IsUpperHex(encoded[i + 1]) || !IsUpperHex(encoded[i + 2]))
                {
                    return false;
                }

                decoded[n++] = (byte)((HexValue(encoded[i + 1]) << 4) | HexValue(encoded[i + 2]));
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

    private static bool IsUpperHex(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'A' and <= (byte)'F');

    private static int HexValue(byte b) => b <= '9' ? b - '0' : b - 'A' + 10;

    private static bool TryParseHex(ReadOnlySpan<byte> text, out byte[] bytes)
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

    private static void WriteLine(FileStream file, IncrementalHash hash, ArrayBufferWriter<byte> line, ReadOnlySpan<byte> text, bool reset = true)
    {
        if (reset)
        {
            line.ResetWrittenCount();
            line.Write(text);
        }

        line.Write("\n"u8);
        hash.AppendData(line.WrittenSpan);
        file.Write(line.WrittenSpan);
    }

    /// <summary>
    /// fsync of the directory, so that the rename itself survives a power cut (rename(2) is atomic but, until the
    /// directory is synced, not durable). .NET cannot open a directory as a file, hence the three libc calls.
    /// </summary>
    private static void SyncDirectory(string directory)
    {
        int fd = Libc.open(Libc.Path(directory), Libc.OpenReadOnly | Libc.OpenDirectory | Libc.OpenCloseOnExec, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {directory} to sync it: {Libc.Describe(Marshal.GetLastPInvokeError())}");
        }

        try
        {
            if (Libc.fsync(fd) != 0)
            {
                throw new IOException($"cannot sync directory {directory}: {Libc.Describe(Marshal.GetLastPInvokeError())}");
            }
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }

    private const int ENOENT = 2;
    private const int ENOTDIR = 20;

    // rw------- : the keys are visitors' data, for this user only (and exactly this, whatever the umask).
    private const int FileMode0600 = 0x180;

    private enum LineStatus : byte
    {
        Line,

        /// <summary>Nothing more: the previous line was the last.</summary>
        End,

        /// <summary>The file ends in the middle of a line (a write cut short).</summary>
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
