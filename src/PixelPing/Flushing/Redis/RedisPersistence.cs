namespace PixelPing.Flushing.Redis;

/// <summary>
/// The server settings that exactly-once storage rests on. The ledger says which batches are stored; it holds only if
/// an answered script survives a crash (the append-only file, synced before the answer is sent) and if no key is ever
/// evicted (an evicted ledger key lets a resent batch count twice; an evicted hash loses its counts).
/// </summary>
internal static class RedisPersistence
{
    /// <summary>Each setting <c>CONFIG GET</c> reads, with the value exactly-once needs.</summary>
    public static IReadOnlyList<(string Name, string Needed)> Settings { get; } =
    [
        ("appendonly", "yes"),
        ("appendfsync", "always"),
        ("maxmemory-policy", "noeviction"),
    ];

    /// <summary>
    /// The settings that differ from what is needed, as one clause; null when all are as needed. A value that could not
    /// be read (null) is not complained about.
    /// </summary>
    public static string? Problem(IReadOnlyList<string?> values)
    {
        var wrong = new List<string>(Settings.Count);
        for (int i = 0; i < Settings.Count; i++)
        {
            if (values[i] is { } value && !value.Equals(Settings[i].Needed, StringComparison.OrdinalIgnoreCase))
            {
                wrong.Add($"{Settings[i].Name} is {value}");
            }
        }

        return wrong.Count == 0
            ? null
            : string.Join(", ", wrong) + ": exactly-once storage needs appendonly yes, appendfsync always and maxmemory-policy noeviction " +
              "(otherwise a crash can lose stored counts, and an eviction can lose counts or let a resent batch count twice)";
    }
}
