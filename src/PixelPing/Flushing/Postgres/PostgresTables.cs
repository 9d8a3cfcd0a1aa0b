using System.Text;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// The schema and the two tables the counts go to: <c>&lt;prefix&gt;hits</c> and <c>&lt;prefix&gt;batches</c> in
/// <c>&lt;schema&gt;</c>. Both names come from the config and are the only text that ever enters a statement: each is
/// checked here and always written quoted (<c>"schema"."prefixhits"</c>, a <c>"</c> doubled), so any name is taken
/// literally, case included, and every statement names the schema, so <c>search_path</c> never matters.
/// </summary>
internal sealed class PostgresTables
{
    public const string DefaultSchema = "public";
    public const string DefaultPrefix = "pixel_ping_";

    // PostgreSQL keeps identifiers of up to NAMEDATALEN - 1 bytes and silently cuts longer ones.
    private const int MaxIdentifierBytes = 63;

    private PostgresTables(string schema, string prefix)
    {
        Schema = Quote(schema);
        Hits = Schema + "." + Quote(prefix + "hits");
        Batches = Schema + "." + Quote(prefix + "batches");
    }

    /// <summary>The schema, quoted.</summary>
    public string Schema { get; }

    /// <summary><c>"schema"."prefixhits"</c>: counts per key per UTC day.</summary>
    public string Hits { get; }

    /// <summary><c>"schema"."prefixbatches"</c>: the ledger of stored batches.</summary>
    public string Batches { get; }

    /// <summary>The tables of names the config reader has checked (<see cref="TryCreate"/>).</summary>
    public static PostgresTables Create(string schema, string prefix) =>
        TryCreate(schema, prefix, out PostgresTables? tables, out string error) ? tables! : throw new ArgumentException(error);

    /// <summary>The names checked; false with one line when one cannot be an identifier.</summary>
    public static bool TryCreate(string schema, string prefix, out PostgresTables? tables, out string error)
    {
        tables = null;
        error = Check("schema", schema, MaxIdentifierBytes, allowEmpty: false)
            // The longer table name, prefix + "batches", must fit too.
            ?? Check("table prefix", prefix, MaxIdentifierBytes - "batches".Length, allowEmpty: true)
            ?? "";
        if (error.Length > 0)
        {
            return false;
        }

        tables = new PostgresTables(schema, prefix);
        return true;
    }

    private static string? Check(string what, string name, int maxBytes, bool allowEmpty)
    {
        if (name.Length == 0)
        {
            return allowEmpty ? null : $"the {what} is empty";
        }

        foreach (char c in name)
        {
            // NUL ends a C string on the server; other controls would only make the name unreadable in every listing.
            if (char.IsControl(c))
            {
                return $"the {what} {Quoting.Quote(name)} has a control character";
            }
        }

        if (!IsValidUtf16(name))
        {
            return $"the {what} {Quoting.Quote(name)} is not valid Unicode";
        }

        int bytes = Encoding.UTF8.GetByteCount(name);
        return bytes > maxBytes ? $"the {what} {Quoting.Quote(name)} is {bytes} bytes long; PostgreSQL names hold at most {maxBytes} here" : null;
    }

    // A lone surrogate (possible in a JSON string's \uD800) has no UTF-8 form; the encoder would turn it into U+FFFD.
    private static bool IsValidUtf16(ReadOnlySpan<char> text)
    {
        while (!text.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(text, out _, out int consumed) != System.Buffers.OperationStatus.Done)
            {
                return false;
            }

            text = text[consumed..];
        }

        return true;
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
