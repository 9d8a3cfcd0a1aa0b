namespace PixelPing.Flushing.Postgres;

/// <summary>
/// How writing one batch ended, with the reason (one line, never a password) when it was not stored, and a warning
/// about something that did not stop it (the ledger retention could not delete old rows).
/// </summary>
internal readonly record struct StoreOutcome(StoreResult Result, string? Reason = null, string? Warning = null)
{
    public bool Delivered => Result is StoreResult.Stored or StoreResult.AlreadyStored;

    public static StoreOutcome Refused(string reason) => new(StoreResult.Refused, reason);

    public static StoreOutcome Failed(string reason) => new(StoreResult.Failed, reason);
}
