namespace PixelPing.Flushing.Redis;

/// <summary>The RESP2 reply types, by their first byte; <see cref="Null"/> is the null bulk string or array.</summary>
internal enum RespKind : byte
{
    SimpleString,
    Error,
    Integer,
    Bulk,
    Array,
    Null,
}
