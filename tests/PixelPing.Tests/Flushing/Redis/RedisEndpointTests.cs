using PixelPing.Flushing.Redis;

namespace PixelPing.Tests.Flushing.Redis;

public sealed class RedisEndpointTests
{
    [Theory]
    [InlineData("redis://127.0.0.1", "127.0.0.1", 6379, false, null, null, 0)]
    [InlineData("redis://cache.example.org:6380/2", "cache.example.org", 6380, false, null, null, 2)]
    [InlineData("rediss://:s3cret@cache.example.org/0", "cache.example.org", 6379, true, null, "s3cret", 0)]
    [InlineData("redis://pixel:p%40ss%3Aw%2Fd@localhost:7000/15", "localhost", 7000, false, "pixel", "p@ss:w/d", 15)]
    [InlineData("redis://pixel:@[::1]:7000", "::1", 7000, false, "pixel", "", 0)]
    [InlineData("redis://:@127.0.0.1/", "127.0.0.1", 6379, false, null, null, 0)]
    [InlineData("REDIS://Cache.Example.org", "cache.example.org", 6379, false, null, null, 0)]
    public void A_redis_URL_gives_host_port_TLS_user_password_and_database(string url, string host, int port, bool tls, string? user, string? password, int database)
    {
        var warnings = new List<string>();
        Assert.True(RedisEndpoint.TryParse(new Uri(url), warnings, out RedisEndpoint endpoint, out string error), error);

        Assert.Equal((host, port, tls, user, password, database),
            (endpoint.Host, endpoint.Port, endpoint.Tls, endpoint.User, endpoint.Password, endpoint.Database));
    }

    [Theory]
    [InlineData("redis://:pw@h/x", "the path must be the database number, such as /0 (got \"x\")")]
    [InlineData("redis://:pw@h/-1", "the path must be the database number, such as /0 (got \"-1\")")]
    [InlineData("redis://:pw@h/0/1", "the path must be the database number, such as /0 (got \"0/1\")")]
    [InlineData("redis://:pw@h/99999999999", "the path must be the database number, such as /0 (got \"99999999999\")")]
    [InlineData("redis://:pw@h/0?db=1", "a Redis endpoint takes no query or fragment")]
    [InlineData("redis://:pw@h/0#x", "a Redis endpoint takes no query or fragment")]
    [InlineData("redis://pw@h", "the user information has no password")]
    [InlineData("redis://:pw@h:0", "the port must be from 1 to 65535")]
    [InlineData("https://:pw@h", "is not a redis:// or rediss:// URL")]
    public void A_URL_that_cannot_be_used_is_one_line_without_the_password(string url, string problem)
    {
        Assert.False(RedisEndpoint.TryParse(new Uri(url), [], out _, out string error));

        Assert.Contains(problem, error, StringComparison.Ordinal);
        Assert.DoesNotContain("pw", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
    }

    [Theory]
    [InlineData("redis://:pw@cache.example.org", true)]
    [InlineData("redis://:pw@127.0.0.1", false)]
    [InlineData("redis://:pw@localhost", false)]
    [InlineData("rediss://:pw@cache.example.org", false)]
    [InlineData("redis://cache.example.org", false)]
    public void A_password_sent_in_clear_to_another_machine_is_a_warning(string url, bool warned)
    {
        var warnings = new List<string>();
        Assert.True(RedisEndpoint.TryParse(new Uri(url), warnings, out _, out _));

        Assert.Equal(warned ? ["redis://…@cache.example.org: the Redis password travels in clear over redis:// to another machine (use rediss://)"] : [], warnings);
    }
}
