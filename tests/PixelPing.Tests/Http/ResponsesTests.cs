using System.Globalization;
using System.Text;
using PixelPing.Http;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Http;

public sealed class ResponsesTests
{
    private static readonly DateTime s_when = new(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc);

    private static Dictionary<string, byte[]> All(Responses r) => new()
    {
        ["200 OK pixel keep-alive"] = r.PixelKeepAlive,
        ["200 OK pixel close"] = r.PixelClose,
        ["200 OK head keep-alive"] = r.HeadKeepAlive,
        ["200 OK head close"] = r.HeadClose,
        ["404 Not Found keep-alive"] = r.NotFoundKeepAlive,
        ["404 Not Found close"] = r.NotFoundClose,
        ["405 Method Not Allowed keep-alive"] = r.MethodNotAllowedKeepAlive,
        ["405 Method Not Allowed close"] = r.MethodNotAllowedClose,
        ["400 Bad Request close"] = r.BadRequest,
        ["413 Content Too Large close"] = r.PayloadTooLarge,
        ["414 URI Too Long close"] = r.UriTooLong,
        ["431 Request Header Fields Too Large close"] = r.HeadersTooLarge,
        ["501 Not Implemented close"] = r.NotImplemented,
        ["505 HTTP Version Not Supported close"] = r.VersionNotSupported,
    };

    [Fact]
    public void Every_response_is_one_well_formed_http11_message_with_the_date_it_was_built_for()
    {
        Responses.Refresh(s_when);
        Responses current = Responses.Current;
        byte[] gif = File.ReadAllBytes(Path.Combine(Repo.Root, "pixel.gif"));

        foreach ((string name, byte[] bytes) in All(current))
        {
            int headEnd = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
            Assert.True(headEnd > 0, name);
            string[] lines = Encoding.ASCII.GetString(bytes, 0, headEnd).Split("\r\n");
            string[] parts = name.Split(' ');
            Assert.StartsWith("HTTP/1.1 " + parts[0] + " ", lines[0], StringComparison.Ordinal);
            Dictionary<string, string> headers = lines[1..].ToDictionary(l => l[..l.IndexOf(':', StringComparison.Ordinal)], l => l[(l.IndexOf(':', StringComparison.Ordinal) + 2)..]);
            Assert.Equal(s_when.ToString("r", CultureInfo.InvariantCulture), headers["Date"]);
            Assert.Equal(name.EndsWith("keep-alive", StringComparison.Ordinal) ? "keep-alive" : "close", headers["Connection"]);

            // A HEAD answer has the pixel's Content-Length and no body; every other body is exactly its length.
            byte[] body = bytes[(headEnd + 4)..];
            bool head = name.Contains("head", StringComparison.Ordinal);
            bool pixel = name.Contains("pixel", StringComparison.Ordinal);
            Assert.Equal(head || pixel ? gif.Length : 0, int.Parse(headers["Content-Length"], CultureInfo.InvariantCulture));
            Assert.Equal(pixel ? gif : [], body);
        }
    }

    [Fact]
    public void Refresh_swaps_the_whole_set()
    {
        Responses.Refresh(s_when);
        Responses before = Responses.Current;
        Responses.Refresh(s_when.AddSeconds(1));
        Responses after = Responses.Current;

        Assert.NotSame(before, after);
        Assert.Contains("Date: Wed, 04 Mar 2026 05:06:07 GMT\r\n", Encoding.ASCII.GetString(before.BadRequest), StringComparison.Ordinal);
        Assert.Contains("Date: Wed, 04 Mar 2026 05:06:08 GMT\r\n", Encoding.ASCII.GetString(after.BadRequest), StringComparison.Ordinal);
        Responses.Refresh(DateTime.UtcNow);
    }

    [Fact]
    public void The_405_says_which_methods_are_allowed()
    {
        string head = Encoding.ASCII.GetString(Responses.Current.MethodNotAllowedClose);

        Assert.Contains("\r\nAllow: GET, HEAD\r\n", head, StringComparison.Ordinal);
    }
}
