namespace PixelPing.Flushing.Postgres;

/// <summary>One backend message: its type byte and its body, valid until the reader reads the next one.</summary>
internal readonly record struct PgMessage(byte Type, ReadOnlyMemory<byte> Body);
