namespace PixelPing.Counting;

/// <summary>What became of a hit handed to <see cref="HitStore.RecordIn"/>.</summary>
internal enum RecordOutcome : byte
{
    /// <summary>Counted, or refused as a new key past maxkeys (which is tallied, and answered like a counted hit).</summary>
    Counted,

    /// <summary>The store was taken after the per-client cap admitted the hit: check it again in the new window.</summary>
    WindowEnded,

    /// <summary>The last take has happened: the hit is not counted and must not be answered as if it were.</summary>
    Closed,
}
