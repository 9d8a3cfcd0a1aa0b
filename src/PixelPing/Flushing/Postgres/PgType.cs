namespace PixelPing.Flushing.Postgres;

/// <summary>The type OIDs of the parameters we send (fixed in <c>pg_type</c> since PostgreSQL 8).</summary>
internal static class PgType
{
    public const uint Bytea = 17;
    public const uint Int8 = 20;
    public const uint Int4 = 23;
    public const uint Text = 25;
    public const uint Float8 = 701;
    public const uint Date = 1082;
    public const uint TimestampTz = 1184;
    public const uint ByteaArray = 1001;
    public const uint TextArray = 1009;
    public const uint Int8Array = 1016;
}
