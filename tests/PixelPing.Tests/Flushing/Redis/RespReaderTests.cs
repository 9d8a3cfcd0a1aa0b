using System.Text;
using PixelPing.Flushing.Redis;

namespace PixelPing.Tests.Flushing.Redis;

public sealed class RespReaderTests
{
    public static TheoryData<string, string> Replies => new()
    {
        { "+OK\r\n", "simple OK" },
        { "+\r\n", "simple " },
        { "-ERR unknown command 'x'\r\n", "error ERR unknown command 'x'" },
        { "-WRONGPASS invalid username-password pair or user is disabled.\r\n", "error WRONGPASS invalid username-password pair or user is disabled." },
        { ":0\r\n", "integer 0" },
        { ":-7\r\n", "integer -7" },
        { ":9223372036854775807\r\n", "integer 9223372036854775807" },
        { "$5\r\nhello\r\n", "bulk hello" },
        { "$0\r\n\r\n", "bulk " },
        { "$4\r\na\r\nb\r\n", "bulk a\r\nb" },
        { "$-1\r\n", "null" },
        { "*-1\r\n", "null" },
        { "*0\r\n", "array []" },
        { "*3\r\n$3\r\nfoo\r\n:1\r\n$-1\r\n", "array [bulk foo, integer 1, null]" },
        { "*2\r\n*2\r\n+a\r\n-b c\r\n*0\r\n", "array [array [simple a, error b c], array []]" },
        { "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n", "array [bulk appendonly, bulk yes]" },
    };

    [Theory]
    [MemberData(nameof(Replies))]
    public void A_reply_is_read_whole_and_typed(string wire, string expected)
    {
        var reader = new RespReader();
        byte[] bytes = Encoding.ASCII.GetBytes(wire);

        Assert.Equal(RespParseStatus.Complete, reader.Read(bytes, out int consumed, out RespReply reply));
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(expected, Show(reply));
    }

    [Theory]
    [MemberData(nameof(Replies))]
    public void Fed_one_byte_at_a_time_a_reply_completes_at_its_last_byte(string wire, string expected)
    {
        // The caller's part: keep what was not consumed, add the next byte, read again.
        var reader = new RespReader();
        byte[] bytes = Encoding.ASCII.GetBytes(wire);
        var pending = new List<byte>();
        for (int i = 0; i < bytes.Length; i++)
        {
            pending.Add(bytes[i]);
            RespParseStatus status = reader.Read(pending.ToArray(), out int consumed, out RespReply reply);
            pending.RemoveRange(0, consumed);
            if (i < bytes.Length - 1)
            {
                Assert.Equal(RespParseStatus.Incomplete, status);
                continue;
            }

            Assert.Equal(RespParseStatus.Complete, status);
            Assert.Empty(pending);
            Assert.Equal(expected, Show(reply));
        }
    }

    [Fact]
    public void Replies_sent_together_are_read_one_after_the_other()
    {
        var reader = new RespReader();
        byte[] bytes = "+OK\r\n:1\r\n*1\r\n$1\r\nx\r\n"u8.ToArray();
        var read = new List<string>();
        int at = 0;
        while (at < bytes.Length)
        {
            Assert.Equal(RespParseStatus.Complete, reader.Read(bytes.AsSpan(at), out int consumed, out RespReply reply));
            at += consumed;
            read.Add(Show(reply));
        }

        Assert.Equal(["simple OK", "integer 1", "array [bulk x]"], read);
    }

    [Fact]
    public void A_bulk_string_holds_every_byte_value()
    {
        byte[] all = [.. Enumerable.Range(0, 256).Select(b => (byte)b)];
        byte[] wire = [.. "$256\r\n"u8, .. all, .. "\r\n"u8];

        Assert.Equal(RespParseStatus.Complete, new RespReader().Read(wire, out _, out RespReply reply));
        Assert.Equal(all, reply.Bytes);
    }

    [Theory]
    [InlineData("+OK\n")]
    [InlineData("\r\n")]
    [InlineData(":12a\r\n")]
    [InlineData(":\r\n")]
    [InlineData(":-\r\n")]
    [InlineData(": 1\r\n")]
    [InlineData("$-2\r\n")]
    [InlineData("$x\r\n")]
    [InlineData("$67108865\r\n")]
    [InlineData("$3\r\nabcd\r\n")]
    [InlineData("$3\r\nabc\n\r")]
    [InlineData("*-2\r\n")]
    [InlineData("*16777217\r\n")]
    [InlineData("*1\r\n?\r\n")]
    [InlineData("%1\r\n+a\r\n+b\r\n")]
    [InlineData("_\r\n")]
    [InlineData("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")]
    public void Bytes_that_are_not_RESP2_are_invalid_with_a_reason(string wire)
    {
        var reader = new RespReader();

        Assert.Equal(RespParseStatus.Invalid, reader.Read(Encoding.ASCII.GetBytes(wire), out _, out _));
        Assert.StartsWith("the server's reply is not RESP2: ", reader.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_line_without_an_end_is_invalid_past_64_KiB()
    {
        byte[] line = [(byte)'+', .. Enumerable.Repeat((byte)'a', RespReader.MaxLine)];

        Assert.Equal(RespParseStatus.Incomplete, new RespReader().Read(line.AsSpan(0, RespReader.MaxLine), out _, out _));
        Assert.Equal(RespParseStatus.Invalid, new RespReader().Read(line, out _, out _));
    }

    [Fact]
    public void Only_the_five_RESP2_types_start_a_reply()
    {
        var accepted = new List<char>();
        for (int b = 0; b < 256; b++)
        {
            // "1", then "+" and CRLF: a one-byte bulk string's data, or a simple string as an array's element.
            byte[] wire = [(byte)b, (byte)'1', (byte)'\r', (byte)'\n', (byte)'+', (byte)'\r', (byte)'\n'];
            if (new RespReader().Read(wire, out _, out _) != RespParseStatus.Invalid)
            {
                accepted.Add((char)b);
            }
        }

        Assert.Equal("$*+-:", new string([.. accepted.Order()]));
    }

    private static string Show(RespReply reply) => reply.Kind switch
    {
        RespKind.SimpleString => "simple " + reply.Text,
        RespKind.Error => "error " + reply.Text,
        RespKind.Integer => "integer " + reply.Integer,
        RespKind.Bulk => "bulk " + reply.Text,
        RespKind.Array => "array [" + string.Join(", ", reply.Items!.Select(Show)) + "]",
        _ => "null",
    };
}
