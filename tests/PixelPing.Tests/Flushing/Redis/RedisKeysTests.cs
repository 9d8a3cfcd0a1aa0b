using System.Text;
using PixelPing.Flushing.Redis;

namespace PixelPing.Tests.Flushing.Redis;

public sealed class RedisKeysTests
{
    [Fact]
    public void The_default_prefix_names_the_hashes_and_the_ledger()
    {
        Assert.True(RedisKeys.TryCreate(RedisKeys.DefaultPrefix, out RedisKeys keys, out _));

        Assert.Equal("{pixel-ping}:hits", Encoding.UTF8.GetString(keys.Totals));
        Assert.Equal("{pixel-ping}:hits:2026-03-01", Encoding.UTF8.GetString(keys.Day(new DateOnly(2026, 3, 1))));
        Assert.Equal("{pixel-ping}:batch:18c2-17:3", Encoding.UTF8.GetString(keys.Ledger("18c2-17", 3)));
        Assert.Equal(HashSlot.Of("pixel-ping"u8), keys.Slot);
    }

    [Theory]
    [InlineData("{site-a}")]
    [InlineData("stats:{site-a}:v2")]
    [InlineData("{é}")]
    public void A_prefix_with_a_hash_tag_puts_every_key_in_its_slot(string prefix)
    {
        Assert.True(RedisKeys.TryCreate(prefix, out RedisKeys keys, out string error), error);

        int slot = HashSlot.Of(keys.Totals);
        Assert.Equal(slot, HashSlot.Of(keys.Day(new DateOnly(2030, 12, 31))));
        Assert.Equal(slot, HashSlot.Of(keys.Ledger("abc-1", 12)));
    }

    [Theory]
    [InlineData("pixel-ping")]
    [InlineData("{}pixel-ping")]
    [InlineData("{pixel-ping")]
    [InlineData("pixel}{ping")]
    [InlineData("")]
    public void A_prefix_without_a_hash_tag_is_refused(string prefix)
    {
        Assert.False(RedisKeys.TryCreate(prefix, out _, out string error));
        Assert.Contains("must contain a hash tag such as {pixel-ping}", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_prefix_with_a_control_character_is_refused_and_shown_escaped()
    {
        Assert.False(RedisKeys.TryCreate("{a}\n", out _, out string error));
        Assert.Equal("the Redis key prefix \"{a}\\n\" must not contain control characters", error);
    }
}
