namespace PixelPing.Flushing.Postgres;

/// <summary>
/// The start's and <c>--check</c>'s one line about the database: <c>endpoint: PostgreSQL 15.18, tables ready</c>, or
/// <c>endpoint: warning: …</c> with the reason. A warning never stops the start: the batches wait for the database.
/// </summary>
internal readonly record struct ProbeResult(bool Ready, string Line);
