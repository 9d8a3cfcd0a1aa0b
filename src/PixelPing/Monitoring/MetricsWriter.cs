using System.Globalization;

namespace PixelPing.Monitoring;

/// <summary>
/// The Prometheus text exposition format, version 0.0.4, written by hand like the flush encoder: every family gets
/// its <c># HELP</c> and <c># TYPE</c> lines, then its samples. Names and help texts are UTF-8 literals, numbers are
/// formatted in place, so a scrape allocates nothing but the buffer, which grows once and is then reused.
/// </summary>
internal sealed class MetricsWriter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private byte[] _buffer = new byte[8192];
    private int _length;

    /// <summary>The text written since the last <see cref="Reset"/>.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    public void Reset() => _length = 0;

    /// <summary>Starts a family: its help text (no backslash or newline in it) and its type.</summary>
    public void Family(ReadOnlySpan<byte> name, MetricType type, ReadOnlySpan<byte> help)
    {
        Append("# HELP "u8);
        Append(name);
        Append(" "u8);
        Append(help);
        Append("\n# TYPE "u8);
        Append(name);
        Append(type switch
        {
            MetricType.Counter => " counter\n"u8,
            MetricType.Gauge => " gauge\n"u8,
            _ => " untyped\n"u8,
        });
    }

    public void Sample(ReadOnlySpan<byte> name, long value)
    {
        Append(name);
        Append(" "u8);
        Number(value);
        Append("\n"u8);
    }

    public void Sample(ReadOnlySpan<byte> name, double value)
    {
        Append(name);
        Append(" "u8);
        Number(value);
        Append("\n"u8);
    }

    /// <summary>A sample with one label; the value is escaped as the format asks (backslash, quote, newline).</summary>
    public void Sample(ReadOnlySpan<byte> name, ReadOnlySpan<byte> label, ReadOnlySpan<char> labelValue, long value)
    {
        Append(name);
        Append("{"u8);
        Append(label);
        Append("=\""u8);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (char c in labelValue)
        {
            switch (c)
            {
                case '\\': Append("\\\\"u8); break;
                case '"': Append("\\\""u8); break;
                case '\n': Append("\\n"u8); break;
                default:
                    Append(utf8[..new System.Text.Rune(char.IsSurrogate(c) ? '\uFFFD' : c).EncodeToUtf8(utf8)]);
                    break;
            }
        }

        Append("\"} "u8);
        Number(value);
        Append("\n"u8);
    }

    private void Number(long value)
    {
        Ensure(20);
        value.TryFormat(_buffer.AsSpan(_length), out int written, default, CultureInfo.InvariantCulture);
        _length += written;
    }

    private void Number(double value)
    {
        if (double.IsNaN(value))
        {
            Append("NaN"u8);
        }
        else if (double.IsInfinity(value))
        {
            Append(value > 0 ? "+Inf"u8 : "-Inf"u8);
        }
        else
        {
            // The shortest text that reads back as the same double ("1733059200.25", "1E+20"): Go's ParseFloat,
            // which Prometheus uses, accepts both forms.
            Ensure(32);
            value.TryFormat(_buffer.AsSpan(_length), out int written, "R", CultureInfo.InvariantCulture);
            _length += written;
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Ensure(int more)
    {
        if (_buffer.Length - _length < more)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
        }
    }
}
