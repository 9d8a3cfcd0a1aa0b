using PixelPing.Config;

namespace PixelPing.Tests.Config;

public sealed class EndpointTextTests
{
    [Theory]
    [InlineData("https://stats.example.org/hits", "https://stats.example.org/hits")]
    [InlineData("https://stats.example.org/hits?token=abc123&site=docs", "https://stats.example.org/hits?token=…&site=…")]
    [InlineData("http://user:hunter2@host:99999/x", "http://…@host:99999/x")]
    [InlineData("ftp://user:hunter2@host/x?k=v#frag", "ftp://…@host/x?k=…#…")]
    [InlineData("http://h/p?bare-token&empty=&=x", "http://h/p?…&empty=&=…")]
    [InlineData("http://h:8080", "http://h:8080")]
    [InlineData("not a url ?token=abc", "not a url ?token=…")]
    [InlineData("user:pw@host/x", "…@host/x")]
    [InlineData("postgresql://pixel:hunter2@db.example.org:5432/stats?sslmode=verify-full&password=x&sslpassword=y&application_name=a",
        "postgresql://pixel:…@db.example.org:5432/stats?sslmode=verify-full&password=…&sslpassword=…&application_name=a")]
    [InlineData("postgres://pixel@db/stats", "postgres://pixel@db/stats")]
    [InlineData("postgresql://%2Fvar%2Frun%2Fpostgresql/stats", "postgresql://%2Fvar%2Frun%2Fpostgresql/stats")]
    [InlineData("redis://:hunter2@cache.example.org:6379/0", "redis://…@cache.example.org:6379/0")]
    [InlineData("rediss://hunter2@cache/2", "rediss://…@cache/2")]
    public void Passwords_and_query_values_are_masked(string url, string shown)
    {
        Assert.Equal(shown, EndpointText.Redact(url));
    }

    [Fact]
    public void What_is_left_is_escaped_for_a_log_line()
    {
        Assert.Equal("http://h/a\\u001b[31m\\u202e?x=…", EndpointText.Show("http://h/a\u001b[31m\u202e?x=secret"));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/x", true)]
    [InlineData("http://127.9.9.9/x", true)]
    [InlineData("http://[::1]:9/x", true)]
    [InlineData("http://localhost/x", true)]
    [InlineData("http://stats.localhost/x", true)]
    [InlineData("http://10.0.0.1/x", false)]
    [InlineData("http://example.org/x", false)]
    [InlineData("http://localhost.example.org/x", false)]
    public void Loopback_endpoints_are_told_apart(string url, bool loopback)
    {
        Assert.Equal(loopback, EndpointText.IsLoopback(new Uri(url)));
    }
}
