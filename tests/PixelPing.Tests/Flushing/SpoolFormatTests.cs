using System.Text;
using PixelPing.Flushing;

namespace PixelPing.Tests.Flushing;

/// <summary>The spool file's contents, written and read in memory: the file operations are <see cref="SpoolTests"/>'.</summary>
public sealed class SpoolFormatTests
{
    private static byte[] Write(IReadOnlyList<Batch> batches)
    {
        using var output = new MemoryStream();
        SpoolFormat.Write(batches, output);
        return output.ToArray();
    }

    // When a test's file was last written: what a version 1 file's batches get as their from and to.
    private const long SavedAt = 1_700_003_600;

    private static bool TryRead(byte[] text, out List<Batch> batches, out string problem)
    {
        batches = [];
        return SpoolFormat.TryRead(new MemoryStream(text), batches, out problem, SavedAt);
    }

    [Fact]
    public void Every_byte_value_in_a_key_round_trips_exactly()
    {
        // Keys are bytes: every value, lone UTF-8 fragments, the format's own separators, a long key.
        byte[] all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        Batch[] batches =
        [
            new Batch("k", [
                SpoolTests.Entry(all, 1), SpoolTests.Entry([.. all.Reverse()], 2), SpoolTests.Entry(" \n\r%25%zz+&= "u8.ToArray(), 3), SpoolTests.Entry([0xFF], 4),
                SpoolTests.Entry([0xED, 0xA0, 0x80], 5), SpoolTests.Entry([], 6), SpoolTests.Entry(Encoding.UTF8.GetBytes(new string('\u2028', 30000)), 7),
            ]),
        ];
        byte[] text = Write(batches);

        Assert.True(TryRead(text, out List<Batch> loaded, out string problem), problem);
        Assert.Equal("", problem);
        SpoolTests.AssertSame(batches, loaded);
        // One line per key plus the header, the batch line and the end line: no key broke a line.
        Assert.Equal(3 + batches[0].Entries.Length, text.Count(b => b == (byte)'\n'));
    }

    [Fact]
    public void The_text_is_readable()
    {
        string[] lines = Encoding.UTF8.GetString(Write(SpoolTests.Sample())).Split('\n');

        Assert.Equal("pixel-ping spool 2", lines[0]);
        Assert.Equal("batch a1b2c3d4e5f6-7 2 5 1700000000 1700000059", lines[1]);
        Assert.Equal("3 document:42", lines[2]);
        Assert.Equal("2 caf%C3%A9%20au%20lait", lines[3]);
        Assert.Equal($"batch a1b2c3d4e5f6-8 1 {long.MaxValue / 4} 1700006399 1700006399", lines[4]);
        Assert.Matches("^end [0-9a-f]{64}$", lines[^2]);
        Assert.Equal("", lines[^1]);
    }

    [Fact]
    public void A_version_1_file_still_loads_its_batches_dated_when_the_file_was_written()
    {
        // As the previous version wrote it (its checksum covers every line above the end line).
        string body = "pixel-ping spool 1\nbatch a1b2c3d4e5f6-7 2 5\n3 document:42\n2 caf%C3%A9%20au%20lait\n";
        string text = body + "end " + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes(body))) + "\n";

        Assert.True(TryRead(Encoding.ASCII.GetBytes(text), out List<Batch> loaded, out string problem), problem);

        Batch batch = Assert.Single(loaded);
        Assert.Equal("a1b2c3d4e5f6-7", batch.Id);
        Assert.Equal(5, batch.Hits);
        Assert.Equal(SavedAt, batch.From);
        Assert.Equal(SavedAt, batch.To);
        // A version 1 batch line is refused in a version 2 file, and the reverse.
        Assert.False(TryRead(Encoding.ASCII.GetBytes(text.Replace("spool 1", "spool 2", StringComparison.Ordinal)), out _, out problem));
        Assert.Contains("<from> <to>", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_truncation_is_refused_never_read_in_part()
    {
        byte[] whole = Write(SpoolTests.Sample());

        for (int length = 0; length < whole.Length; length++)
        {
            Assert.False(TryRead(whole[..length], out List<Batch> loaded, out string problem), $"prefix of {length} bytes read");
            Assert.Empty(loaded);
            Assert.NotEqual("", problem);
        }
    }

    [Fact]
    public void Any_changed_byte_or_trailing_data_is_refused()
    {
        byte[] whole = Write(SpoolTests.Sample());
        var random = new Random(5);

        for (int i = 0; i < whole.Length; i++)
        {
            byte[] changed = [.. whole];
            changed[i] ^= (byte)(1 + random.Next(255));
            Assert.False(TryRead(changed, out List<Batch> loaded, out _), $"byte {i} changed and still read");
            Assert.Empty(loaded);
        }

        Assert.False(TryRead([.. whole, .. "x"u8], out _, out string trailing));
        Assert.Contains("after the \"end\" line", trailing, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("{\"json\": true}\n", "does not start with")]
    [InlineData("pixel-ping spool 1\n", "truncated")]
    [InlineData("pixel-ping spool 1\nbatch x 1 1\n1 a\n", "truncated")]
    [InlineData("pixel-ping spool 1\nbatch x 2 2\n1 a\n", "truncated inside batch x")]
    [InlineData("pixel-ping spool 1\nbatch x 2000000000 5\n1 a\n", "truncated inside batch x")]
    [InlineData("pixel-ping spool 1\nbatch x y 1\n", "should be \"batch")]
    [InlineData("pixel-ping spool 1\nbatch x 1 2\n1 a\nend 00\n", "says 2 hits")]
    [InlineData("pixel-ping spool 1\nbatch x 1 1\n1 %zz\nend 00\n", "should be \"<count> <key>\"")]
    [InlineData("pixel-ping spool 1\nbatch x 1 1\n1 %4a\nend 00\n", "should be \"<count> <key>\"")]
    [InlineData("pixel-ping spool 1\nbatch x 1 1\n-1 a\nend 00\n", "should be \"<count> <key>\"")]
    [InlineData("pixel-ping spool 1\nbatch x 2 2\n1 a\n1 a\nend 00\n", "new key")]
    [InlineData("pixel-ping spool 1\nbatch x 1 1\n1 a\nend 00\n", "checksum")]
    [InlineData("pixel-ping spool 1\nbatch x 1 1\n1 a\nbatch x 1 1\n1 b\nend 00\n", "appears twice")]
    [InlineData("pixel-ping spool 2\nbatch x 1 1\n1 a\nend 00\n", "should be \"batch <id> <keys> <hits> <from> <to>\"")]
    [InlineData("pixel-ping spool 2\nbatch x 1 1 1700000060 1700000059\n1 a\nend 00\n", "from <= to")]
    [InlineData("pixel-ping spool 2\nbatch x 1 1 1700006399 1700006400\n1 a\nend 00\n", "one UTC day")]
    [InlineData("pixel-ping spool 2\nbatch x 1 1 1700000000 1700000001\n1 a\nend 00\n", "checksum")]
    [InlineData("pixel-ping spool 3\n", "does not start with")]
    public void Inconsistent_text_is_refused_with_the_reason(string text, string reason)
    {
        Assert.False(TryRead(Encoding.UTF8.GetBytes(text), out List<Batch> loaded, out string problem));
        Assert.Empty(loaded);
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_that_is_not_a_spool_at_all_is_refused_whatever_its_bytes()
    {
        var random = new Random(11);
        for (int i = 0; i < 300; i++)
        {
            byte[] noise = new byte[random.Next(0, 3000)];
            random.NextBytes(noise);
            if (i % 2 == 0)
            {
                noise = [.. "pixel-ping spool 1\n"u8, .. noise];
            }

            Assert.False(TryRead(noise, out _, out _));
        }
    }

    [Fact]
    public void An_id_that_does_not_fit_a_line_is_not_written()
    {
        Assert.Throws<ArgumentException>(() => Write([new Batch("has space", [SpoolTests.Entry("k"u8.ToArray(), 1)])]));
    }
}
