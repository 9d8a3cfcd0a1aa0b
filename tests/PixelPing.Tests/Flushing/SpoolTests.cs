using System.Runtime.InteropServices;
using PixelPing.Flushing;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Flushing;

public sealed partial class SpoolTests
{
    private readonly string _dir = TempDir.Create();

    private Spool NewSpool(string name = "spool.txt") => new(Path.Combine(_dir, name));

    internal static KeyValuePair<byte[], long> Entry(byte[] key, long count) => new(key, count);

    internal static Batch[] Sample() =>
    [
        new Batch("a1b2c3d4e5f6-7", [Entry("document:42"u8.ToArray(), 3), Entry("caf\u00E9 au lait"u8.ToArray(), 2)]) { From = 1_700_000_000, To = 1_700_000_059 },
        new Batch("a1b2c3d4e5f6-8", [Entry("x"u8.ToArray(), long.MaxValue / 4)]) { From = 1_700_006_399, To = 1_700_006_399 },
    ];

    internal static void AssertSame(IReadOnlyList<Batch> expected, IReadOnlyList<Batch> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int b = 0; b < expected.Count; b++)
        {
            Assert.Equal(expected[b].Id, actual[b].Id);
            Assert.Equal(expected[b].From, actual[b].From);
            Assert.Equal(expected[b].To, actual[b].To);
            Assert.Equal(expected[b].Entries.Length, actual[b].Entries.Length);
            for (int i = 0; i < expected[b].Entries.Length; i++)
            {
                Assert.Equal(expected[b].Entries[i].Key, actual[b].Entries[i].Key);
                Assert.Equal(expected[b].Entries[i].Value, actual[b].Entries[i].Value);
            }
        }
    }

    [Fact]
    public void Batches_round_trip_in_order_with_their_ids()
    {
        Spool spool = NewSpool();
        Assert.True(spool.TrySave(Sample(), out string error), error);

        Assert.Equal(SpoolLoadStatus.Loaded, spool.Load(out List<Batch> loaded, out string problem));
        Assert.Equal("", problem);
        AssertSame(Sample(), loaded);
        Assert.False(File.Exists(spool.FullPath + ".tmp"));
    }

    [Fact]
    public void Saving_nothing_removes_the_file_and_a_missing_file_is_missing()
    {
        Spool spool = NewSpool();
        Assert.Equal(SpoolLoadStatus.Missing, spool.Load(out List<Batch> none, out _));
        Assert.Empty(none);
        Assert.True(spool.TrySave(Sample(), out _));
        Assert.True(File.Exists(spool.FullPath));

        Assert.True(spool.TrySave([], out string error), error);
        Assert.False(File.Exists(spool.FullPath));
        Assert.True(spool.TrySave([], out error), error);
        Assert.Equal(SpoolLoadStatus.Missing, spool.Load(out _, out _));
    }

    [Fact]
    public void A_save_replaces_the_previous_file_whole()
    {
        Spool spool = NewSpool();
        Assert.True(spool.TrySave(Sample(), out _));
        Batch[] second = [new Batch("z-1", [Entry("only"u8.ToArray(), 9)])];

        Assert.True(spool.TrySave(second, out _));

        Assert.Equal(SpoolLoadStatus.Loaded, spool.Load(out List<Batch> loaded, out _));
        AssertSame(second, loaded);
        Assert.Equal([spool.FullPath], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Moving_aside_never_overwrites_an_earlier_corrupt_file()
    {
        Spool spool = NewSpool();
        var now = new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc);
        File.WriteAllText(spool.FullPath, "first");
        string? first = spool.MoveAside(now, out string error);
        File.WriteAllText(spool.FullPath, "second");
        string? second = spool.MoveAside(now, out error);

        Assert.Equal(spool.FullPath + ".corrupt-20260304T050607Z", first);
        Assert.Equal(spool.FullPath + ".corrupt-20260304T050607Z-1", second);
        Assert.Equal("first", File.ReadAllText(first!));
        Assert.Equal("second", File.ReadAllText(second!));
        Assert.False(File.Exists(spool.FullPath));
    }

    [Fact]
    public void A_save_into_a_missing_directory_fails_with_a_reason_and_leaves_nothing()
    {
        var spool = new Spool(Path.Combine(_dir, "missing", "spool.txt"));

        Assert.False(spool.TrySave(Sample(), out string error));
        Assert.NotEqual("", error);
        Assert.False(Directory.Exists(Path.Combine(_dir, "missing")));
    }

    [Fact]
    public void A_save_to_a_path_that_is_a_directory_says_so()
    {
        string directory = Path.Combine(_dir, "spool.d");
        Directory.CreateDirectory(directory);
        var spool = new Spool(directory);

        Assert.False(spool.TrySave(Sample(), out string error));
        Assert.Contains("is a directory", error, StringComparison.Ordinal);
        Assert.DoesNotContain("permission denied", error, StringComparison.Ordinal);
        Assert.True(Directory.Exists(directory));
    }

    [Theory]
    [InlineData("a1b2c3d4e5f6-1", true)]
    [InlineData("x", true)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    [InlineData("new\nline", false)]
    public void Only_ids_that_fit_a_line_are_spooled(string id, bool valid)
    {
        Assert.Equal(valid, SpoolFormat.IsValidId(id));
        if (!valid)
        {
            Assert.False(NewSpool().TrySave([new Batch(id, [Entry("k"u8.ToArray(), 1)])], out _));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_link_planted_at_the_temporary_path_is_removed_never_written_through(bool hardLink)
    {
        // Another user's 0600 file, and a link to it where the next save creates its temporary file.
        string victim = Path.Combine(_dir, "victim");
        File.WriteAllText(victim, "not yours");
        File.SetUnixFileMode(victim, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Spool spool = NewSpool();
        string temporary = spool.FullPath + ".tmp";
        if (hardLink)
        {
            Assert.Equal(0, link(victim, temporary));
        }
        else
        {
            File.CreateSymbolicLink(temporary, victim);
        }

        Assert.True(spool.TrySave(Sample(), out string error), error);

        Assert.Equal("not yours", File.ReadAllText(victim));
        Assert.Null(new FileInfo(spool.FullPath).LinkTarget);
        Assert.Equal(SpoolLoadStatus.Loaded, spool.Load(out List<Batch> loaded, out _));
        AssertSame(Sample(), loaded);
        Assert.False(File.Exists(temporary));
    }

    [Fact]
    public void The_file_is_readable_by_its_owner_only_whatever_the_umask()
    {
        Spool spool = NewSpool();
        Assert.True(spool.TrySave(Sample(), out string error), error);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(spool.FullPath));
    }

    [Fact]
    public void A_link_at_the_spool_path_is_refused_at_load_and_replaced_by_a_save_not_written_through()
    {
        // The link points at a valid spool file: loading it would send someone else's batches.
        Spool elsewhere = NewSpool("elsewhere.txt");
        Assert.True(elsewhere.TrySave(Sample(), out string error), error);
        string before = File.ReadAllText(elsewhere.FullPath);
        Spool spool = NewSpool();
        File.CreateSymbolicLink(spool.FullPath, elsewhere.FullPath);

        Assert.Equal(SpoolLoadStatus.Corrupt, spool.Load(out List<Batch> loaded, out string problem));
        Assert.Empty(loaded);
        Assert.Contains("symbolic link", problem, StringComparison.Ordinal);

        Batch[] other = [new Batch("z", [Entry("mine"u8.ToArray(), 1)])];
        Assert.True(spool.TrySave(other, out error), error);
        Assert.Equal(before, File.ReadAllText(elsewhere.FullPath));
        Assert.Null(new FileInfo(spool.FullPath).LinkTarget);
        Assert.Equal(SpoolLoadStatus.Loaded, spool.Load(out loaded, out _));
        AssertSame(other, loaded);
    }

    [Fact]
    public void The_directory_check_names_a_missing_directory()
    {
        Assert.Null(NewSpool().CheckDirectory());
        string? problem = new Spool(Path.Combine(_dir, "missing", "spool.txt")).CheckDirectory();
        Assert.NotNull(problem);
        Assert.Contains("does not exist", problem, StringComparison.Ordinal);
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string existing, string created);
}
