using System.Text;

namespace PixelPing.Flushing.Redis;

/// <summary>
/// One RESP2 reply. An error reply is a value like any other (<see cref="IsError"/>): refusals such as
/// <c>WRONGPASS</c>, <c>MOVED</c> or <c>NOSCRIPT</c> are the server's ordinary answers, not exceptions.
/// </summary>
internal readonly struct RespReply
{
    private RespReply(RespKind kind, long integer, byte[]? bytes, RespReply[]? items)
    {
        Kind = kind;
        Integer = integer;
        Bytes = bytes;
        Items = items;
    }

    public RespKind Kind { get; }

    /// <summary>The value of an integer reply.</summary>
    public long Integer { get; }

    /// <summary>The bytes of a simple string, an error or a bulk string.</summary>
    public byte[]? Bytes { get; }

    /// <summary>The elements of an array.</summary>
    public RespReply[]? Items { get; }

    public bool IsError => Kind == RespKind.Error;

    /// <summary>The text of a string or an error (UTF-8, invalid bytes as U+FFFD), for messages and small answers.</summary>
    public string Text => Bytes is null ? "" : Encoding.UTF8.GetString(Bytes);

    /// <summary>An error's code: its first word by Redis's convention (<c>WRONGPASS</c>, <c>MOVED</c>, <c>ERR</c>).</summary>
    public string ErrorCode
    {
        get
        {
            if (!IsError)
            {
                return "";
            }

            string text = Text;
            int space = text.IndexOf(' ', StringComparison.Ordinal);
            return space < 0 ? text : text[..space];
        }
    }

    public static RespReply Simple(byte[] text) => new(RespKind.SimpleString, 0, text, null);

    public static RespReply Error(byte[] text) => new(RespKind.Error, 0, text, null);

    public static RespReply Number(long value) => new(RespKind.Integer, value, null, null);

    public static RespReply Bulk(byte[] value) => new(RespKind.Bulk, 0, value, null);

    public static RespReply Array(RespReply[] items) => new(RespKind.Array, 0, null, items);

    public static RespReply Null => new(RespKind.Null, 0, null, null);

    /// <summary>True for the simple string <paramref name="text"/> (<c>+OK</c>, <c>+PONG</c>).</summary>
    public bool IsSimple(ReadOnlySpan<byte> text) => Kind == RespKind.SimpleString && Bytes.AsSpan().SequenceEqual(text);
}
