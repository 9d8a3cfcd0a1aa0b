using PixelPing.Flushing.Redis;

namespace PixelPing.Tests.Flushing.Redis;

public sealed class RespWriterTests
{
    [Fact]
    public void A_command_is_an_array_of_bulk_strings_whatever_its_bytes()
    {
        var writer = new RespWriter();
        writer.Command(4).Argument("HINCRBY"u8).Argument("a\r\nb\0"u8).Argument("é").Argument(-42);

        Assert.Equal("*4\r\n$7\r\nHINCRBY\r\n$5\r\na\r\nb\0\r\n$2\r\né\r\n$3\r\n-42\r\n"u8.ToArray(), writer.Written.ToArray());
    }

    [Fact]
    public void Commands_written_one_after_the_other_go_out_together_and_read_back_as_written()
    {
        byte[] all = [.. Enumerable.Range(0, 256).Select(b => (byte)b)];
        var writer = new RespWriter();
        writer.Command(1).Argument("ASKING"u8);
        writer.Command(3).Argument("SET"u8).Argument(all).Argument(long.MaxValue);

        var reader = new RespReader();
        Assert.Equal(RespParseStatus.Complete, reader.Read(writer.Written.Span, out int first, out RespReply asking));
        Assert.Equal(RespParseStatus.Complete, reader.Read(writer.Written.Span[first..], out int second, out RespReply set));
        Assert.Equal(writer.Written.Length, first + second);
        Assert.Equal("ASKING", asking.Items![0].Text);
        Assert.Equal(all, set.Items![1].Bytes);
        Assert.Equal("9223372036854775807", set.Items[2].Text);
    }

    [Fact]
    public void A_command_with_fewer_or_more_arguments_than_announced_is_never_sent()
    {
        var writer = new RespWriter();
        writer.Command(2).Argument("PING"u8);

        Assert.Throws<InvalidOperationException>(() => writer.Written);
        Assert.Throws<InvalidOperationException>(() => writer.Command(1));
        writer.Argument("x"u8);
        Assert.Throws<InvalidOperationException>(() => writer.Argument("y"u8));
    }

    [Fact]
    public void Clear_starts_again_with_nothing_written()
    {
        var writer = new RespWriter();
        writer.Command(1).Argument(new byte[10000]);
        writer.Clear();
        writer.Command(1).Argument("PING"u8);

        Assert.Equal("*1\r\n$4\r\nPING\r\n"u8.ToArray(), writer.Written.ToArray());
    }
}
