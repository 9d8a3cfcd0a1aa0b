using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace PixelPing.Flushing;

/// <summary>
/// Builds the flush body <c>json=…&amp;secret=…&amp;batch=…&amp;from=…&amp;to=…</c>: the <c>json=</c> field byte for
/// byte as pixel-ping 0.1.6 built it (<c>encodeURIComponent(JSON.stringify(counts))</c>), then the fields it did not
/// have, after its own, so that a receiver that ignores unknown fields reads the same form.
/// </summary>
internal static class BatchEncoder
{
    // The least the sink asks its IBufferWriter for when its span runs out (it never needs more than 3 at once).
    private const int MinimumSpanLength = 16;

    // Longest decimal long: "-9223372036854775808".
    private const int MaxCountLength = 20;

    // encodeURIComponent leaves these bytes alone and percent-encodes every other one.
    private static readonly SearchValues<byte> s_unreserved =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()"u8);

    // Bytes JSON.stringify does not copy through unchanged: controls, '"', '\' and the start of any non-ASCII
    // sequence (which must be checked for valid UTF-8). DEL (0x7F) is written raw, as JSON.stringify does.
    private static readonly SearchValues<byte> s_jsonSpecial =
        SearchValues.Create([.. ByteSets.Range(0x00, 0x1F), (byte)'"', (byte)'\\', .. ByteSets.Range(0x80, 0xFF)]);

    private static ReadOnlySpan<byte> JsonField => "json="u8;

    private static ReadOnlySpan<byte> SecretField => "&secret="u8;

    private static ReadOnlySpan<byte> BatchField => "&batch="u8;

    private static ReadOnlySpan<byte> FromField => "&from="u8;

    private static ReadOnlySpan<byte> ToField => "&to="u8;

    private static ReadOnlySpan<byte> ReplacementCharacter => "\uFFFD"u8;

    private static ReadOnlySpan<byte> LowerHex => "0123456789abcdef"u8;

    /// <summary>
    /// The flush body (the <c>&amp;secret=</c> field only when <paramref name="secret"/> is not null), made piece by
    /// piece in one reused buffer of about
    /// <paramref name="chunkSize"/> bytes, so that sending a batch never holds its whole body in memory: a body can be
    /// eight times the size of its keys (a control character becomes <c>%5Cu0001</c>). Each piece is valid only until
    /// the next one is asked for.
    /// </summary>
    public static IEnumerable<ReadOnlyMemory<byte>> EncodeBodyChunks(Batch batch, string? secret, int chunkSize = 64 * 1024)
    {
        KeyValuePair<byte[], long>[] entries = batch.Entries;
        var buffer = new ArrayBufferWriter<byte>(chunkSize + 1024);
        WriteBodyStart(buffer);
        int next = 0;
        while (next < entries.Length)
        {
            next = WriteEntries(entries, next, buffer, stopAfter: chunkSize);
            if (buffer.WrittenCount >= chunkSize)
            {
                yield return buffer.WrittenMemory;
                buffer.ResetWrittenCount();
            }
        }

        WriteBodyEnd(buffer, batch, secret);
        yield return buffer.WrittenMemory;
    }

    private static void WriteBodyStart(IBufferWriter<byte> output)
    {
        var sink = new Sink(output);
        sink.WriteVerbatim(JsonField);
        sink.WriteEscaped((byte)'{');
        sink.Flush();
    }

    private static void WriteBodyEnd(IBufferWriter<byte> output, Batch batch, string? secret)
    {
        var sink = new Sink(output);
        sink.WriteEscaped((byte)'}');
        if (secret is not null)
        {
            sink.WriteVerbatim(SecretField);
            WriteString(secret, ref sink);
        }

        sink.WriteVerbatim(BatchField);
        WriteString(batch.Id, ref sink);
        Span<byte> digits = stackalloc byte[MaxCountLength];
        sink.WriteVerbatim(FromField);
        Utf8Formatter.TryFormat(batch.From, digits, out int length);
        sink.Write(digits[..length]);
        sink.WriteVerbatim(ToField);
        Utf8Formatter.TryFormat(batch.To, digits, out length);
        sink.Write(digits[..length]);
        sink.Flush();
    }

    /// <summary>
    /// Writes <c>"key":count</c> pairs (comma-separated, the first one after the object's opening brace) from
    /// <paramref name="start"/> on, until the output has taken <paramref name="stopAfter"/> bytes or the entries end;
    /// returns the index of the next entry to write.
    /// </summary>
    private static int WriteEntries(IReadOnlyList<KeyValuePair<byte[], long>> entries, int start, IBufferWriter<byte> output, int stopAfter)
    {
        Span<byte> digits = stackalloc byte[MaxCountLength];
        long written = 0;
        for (int i = start; i < entries.Count; i++)
        {
            var sink = new Sink(output);
            KeyValuePair<byte[], long> entry = entries[i];
            if (i > 0)
            {
                sink.WriteEscaped((byte)',');
            }

            sink.WriteEscaped((byte)'"');
            WriteJsonStringContent(entry.Key, ref sink);
            sink.WriteEscaped((byte)'"');
            sink.WriteEscaped((byte)':');
            Utf8Formatter.TryFormat(entry.Value, digits, out int length);
            sink.Write(digits[..length]);
            written += sink.Flush();
            if (written >= stopAfter)
            {
                return i + 1;
            }
        }

        return entries.Count;
    }

    // JSON.stringify's escaping: \" \\ \b \f \n \r \t, other controls as \u00xx (lowercase), everything else raw.
    // Keys come from KeyDecoder and are valid UTF-8; should one not be, each maximal invalid subpart becomes
    // U+FFFD so the body is still valid JSON in valid UTF-8.
    private static void WriteJsonStringContent(ReadOnlySpan<byte> key, ref Sink sink)
    {
        Span<byte> escape = stackalloc byte[6];
        escape[0] = (byte)'\\';
        while (true)
        {
            int special = key.IndexOfAny(s_jsonSpecial);
            if (special < 0)
            {
                sink.Write(key);
                return;
            }

            sink.Write(key[..special]);
            key = key[special..];
            byte b = key[0];
            if (b >= 0x80)
            {
                OperationStatus status = Rune.DecodeFromUtf8(key, out _, out int consumed);
                sink.Write(status == OperationStatus.Done ? key[..consumed] : ReplacementCharacter);
                key = key[consumed..];
                continue;
            }

            int length = 2;
            switch (b)
            {
                case (byte)'"': escape[1] = (byte)'"'; break;
                case (byte)'\\': escape[1] = (byte)'\\'; break;
                case (byte)'\b': escape[1] = (byte)'b'; break;
                case (byte)'\f': escape[1] = (byte)'f'; break;
                case (byte)'\n': escape[1] = (byte)'n'; break;
                case (byte)'\r': escape[1] = (byte)'r'; break;
                case (byte)'\t': escape[1] = (byte)'t'; break;
                default:
                    escape[1] = (byte)'u';
                    escape[2] = (byte)'0';
                    escape[3] = (byte)'0';
                    escape[4] = LowerHex[b >> 4];
                    escape[5] = LowerHex[b & 0xF];
                    length = 6;
                    break;
            }

            sink.Write(escape[..length]);
            key = key[1..];
        }
    }

    // A .NET string as UTF-8 without allocating; a lone surrogate becomes U+FFFD (encodeURIComponent would throw).
    private static void WriteString(string value, ref Sink sink)
    {
        Span<byte> utf8 = stackalloc byte[4];
        foreach (Rune rune in value.EnumerateRunes())
        {
            int length = rune.EncodeToUtf8(utf8);
            sink.Write(utf8[..length]);
        }
    }

    /// <summary>
    /// Writes into an <see cref="IBufferWriter{T}"/> through a cached span, percent-encoding every content byte
    /// outside encodeURIComponent's set, so that JSON text goes straight into the form body without an intermediate copy.
    /// </summary>
    private ref struct Sink
    {
        private readonly IBufferWriter<byte> _output;
        private Span<byte> _span;
        private int _position;
        private int _flushed;

        public Sink(IBufferWriter<byte> output)
        {
            _output = output;
        }

        public void Write(scoped ReadOnlySpan<byte> content)
        {
            while (true)
            {
                int reserved = content.IndexOfAnyExcept(s_unreserved);
                if (reserved < 0)
                {
                    WriteVerbatim(content);
                    return;
                }

                WriteVerbatim(content[..reserved]);
                WriteEscaped(content[reserved]);
                content = content[(reserved + 1)..];
            }
        }

        // Bytes that are the form's own syntax ('&', '='), or already known to need no encoding.
        public void WriteVerbatim(scoped ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                if (_position == _span.Length)
                {
                    Reserve(1);
                }

                int length = Math.Min(bytes.Length, _span.Length - _position);
                bytes[..length].CopyTo(_span[_position..]);
                _position += length;
                bytes = bytes[length..];
            }
        }

        /// <summary>Hands what is written to the output; returns how many bytes that was since the last flush.</summary>
        public int Flush()
        {
            int flushed = _flushed + _position;
            _output.Advance(_position);
            _span = default;
            _position = 0;
            _flushed = 0;
            return flushed;
        }

        // Also JSON's own punctuation ({ } , : "), none of which encodeURIComponent leaves alone.
        public void WriteEscaped(byte value)
        {
            Reserve(3);
            PercentEncoding.WriteEscape(value, _span[_position..]);
            _position += 3;
        }

        private void Reserve(int count)
        {
            if (_span.Length - _position < count)
            {
                _flushed += _position;
                _output.Advance(_position);
                _position = 0;
                _span = _output.GetSpan(Math.Max(count, MinimumSpanLength));
            }
        }
    }
}
