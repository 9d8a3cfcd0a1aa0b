namespace PixelPing.Flushing.Redis;

/// <summary>What <see cref="RespReader.Read"/> made of the bytes it was given.</summary>
internal enum RespParseStatus : byte
{
    /// <summary>The reply goes on past these bytes: keep what was not consumed, add more, call again.</summary>
    Incomplete,

    /// <summary>A whole reply was read.</summary>
    Complete,

    /// <summary>The bytes are not RESP2, or pass a limit; the connection cannot be used any more.</summary>
    Invalid,
}
