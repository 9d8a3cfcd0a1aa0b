using System.Text;
using PixelPing.Flushing.Redis;

namespace PixelPing.Tests.Flushing.Redis;

public sealed class HashSlotTests
{
    [Fact]
    public void The_CRC16_is_the_XMODEM_one_the_Cluster_specification_names()
    {
        // The specification's check value: CRC16 of "123456789" is 0x31C3.
        Assert.Equal(0x31C3, HashSlot.Crc16("123456789"u8));
    }

    [Theory]
    [InlineData("foo", 12182)]
    [InlineData("bar", 5061)]
    [InlineData("hello", 866)]
    [InlineData("somekey", 11058)]
    [InlineData("", 0)]
    public void Known_keys_have_their_known_slots(string key, int slot)
    {
        Assert.Equal(slot, HashSlot.Of(Encoding.UTF8.GetBytes(key)));
    }

    [Theory]
    // The specification's examples of hash tags.
    [InlineData("{user1000}.following", "user1000")]
    [InlineData("foo{}{bar}", "foo{}{bar}")]
    [InlineData("foo{{bar}}zap", "{bar")]
    [InlineData("foo{bar}{zap}", "bar")]
    [InlineData("{pixel-ping}:hits", "pixel-ping")]
    [InlineData("{pixel-ping:hits", "{pixel-ping:hits")]
    [InlineData("a}{b}", "b")]
    public void The_hash_tag_is_between_the_first_open_brace_and_the_next_close(string key, string tag)
    {
        Assert.Equal(tag, Encoding.UTF8.GetString(HashSlot.Tag(Encoding.UTF8.GetBytes(key))));
    }
}
