namespace PixelPing.Flushing.Postgres;

internal enum StoreResult : byte
{
    /// <summary>The batch is committed: its ledger row and every count.</summary>
    Stored,

    /// <summary>The ledger already had the batch id (a resend after a lost answer): nothing was added.</summary>
    AlreadyStored,

    /// <summary>
    /// The database refuses, and will until someone changes it or the config: a missing table that cannot be created,
    /// a right not granted, a wrong password, a database that does not exist. The batch stays pending.
    /// </summary>
    Refused,

    /// <summary>Not reached, lost, timed out, or an error that may pass (a shutdown, too many connections). The batch stays pending.</summary>
    Failed,
}
