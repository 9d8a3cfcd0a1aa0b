using PixelPing.Common;

namespace PixelPing.Tests;

public sealed class SmallFileTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("pixel-ping-smallfile-");

    public void Dispose() => _dir.Delete(recursive: true);

    private string PathOf(string name) => Path.Combine(_dir.FullName, name);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(4096)]
    public void A_file_within_the_limit_is_read_whole(int size)
    {
        byte[] content = [.. Enumerable.Range(0, size).Select(i => (byte)i)];
        File.WriteAllBytes(PathOf("f"), content);

        Assert.Equal(SmallFileError.None, SmallFile.TryRead(PathOf("f"), 4096, out byte[] bytes, out int length, out string reason));

        Assert.Equal(content, bytes[..length]);
        Assert.Equal("", reason);
    }

    [Fact]
    public void A_file_over_the_limit_is_refused_with_its_size()
    {
        File.WriteAllBytes(PathOf("big"), new byte[(1 << 20) + 1]);

        Assert.Equal(SmallFileError.TooLarge, SmallFile.TryRead(PathOf("big"), 1 << 20, out _, out _, out string reason));
        Assert.Equal("it is larger than 1 MiB (1048577 bytes)", reason);
        Assert.Equal(SmallFileError.TooLarge, SmallFile.TryRead(PathOf("big"), 1000, out _, out _, out reason));
        Assert.Equal("it is larger than 1000 bytes (1048577 bytes)", reason);
    }

    [Fact]
    public void A_pipe_is_read_to_its_end_and_still_limited()
    {
        // /proc files report a length of 0 and have more: read to the end, never past the limit.
        Assert.Equal(SmallFileError.None, SmallFile.TryRead("/proc/self/status", 1 << 20, out byte[] bytes, out int length, out _));
        Assert.Contains("Name:", System.Text.Encoding.ASCII.GetString(bytes, 0, length), StringComparison.Ordinal);

        Assert.Equal(SmallFileError.TooLarge, SmallFile.TryRead("/proc/self/status", 10, out _, out _, out string reason));
        Assert.Equal("it is larger than 10 bytes", reason);
    }

    [Fact]
    public void Each_way_of_failing_is_a_few_words()
    {
        Directory.CreateDirectory(PathOf("dir"));

        Assert.Equal(SmallFileError.Unreadable, SmallFile.TryRead(PathOf("missing"), 100, out _, out _, out string missing));
        Assert.Equal(SmallFileError.Unreadable, SmallFile.TryRead(PathOf("dir"), 100, out _, out _, out string directory));
        Assert.Equal(SmallFileError.Unreadable, SmallFile.TryRead(PathOf("missing/below"), 100, out _, out _, out string below));
        Assert.Equal(SmallFileError.Unreadable, SmallFile.TryRead("", 100, out _, out _, out string empty));

        Assert.Equal("no such file or directory", missing);
        Assert.Equal("it is a directory", directory);
        Assert.Equal("no such file or directory", below);
        Assert.Equal("the path is empty", empty);
    }
}
