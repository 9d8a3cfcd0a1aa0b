using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using PixelPing.Flushing;
using PixelPing.Interop;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Flushing;

/// <summary>
/// The spool's lock file in-process (flock(2) locks of two open files conflict within one process as between two):
/// held, refused with the holder's PID, left behind by a dead holder, planted as a link, waited for.
/// </summary>
public sealed class SpoolLockTests
{
    private static readonly string s_pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
    private readonly string _dir = TempDir.Create();

    private Spool Spool => new(Path.Combine(_dir, "spool.txt"));

    private string LockPath => Path.Combine(_dir, "spool.txt.lock");

    /// <summary>
    /// The file's text, read without the runtime's own advisory lock (a FileStream takes a shared flock, which the
    /// exclusive lock held here would refuse).
    /// </summary>
    private static string ReadUnlocked(string path)
    {
        int fd = Libc.open(Libc.Path(path), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        Assert.True(fd >= 0, $"cannot open {path}: {Libc.Describe(Libc.Errno)}");
        using var file = new SafeFileHandle(fd, ownsHandle: true);
        byte[] buffer = new byte[64];
        return Encoding.ASCII.GetString(buffer, 0, RandomAccess.Read(file, buffer, 0));
    }

    [Fact]
    public void A_held_lock_refuses_the_next_taker_and_the_check_in_one_line_naming_the_holder()
    {
        Assert.True(SpoolLock.TryTake(Spool, wait: false, out SpoolLock? held, out string error), error);
        using (held)
        {
            Assert.NotNull(held);
            Assert.Equal(s_pid + "\n", ReadUnlocked(LockPath));
            string expected = $"{Spool.Path} is in use by process {s_pid} (it holds {Spool.Path}.lock); two processes must not share one spool file";

            Assert.False(SpoolLock.TryTake(Spool, wait: false, out SpoolLock? second, out error));
            Assert.Null(second);
            Assert.Equal(expected, error);
            Assert.False(SpoolLock.IsFree(Spool, out error));
            Assert.Equal(expected, error);
        }

        // Let go: the file stays, and the next taker gets the lock.
        Assert.True(File.Exists(LockPath));
        Assert.True(SpoolLock.IsFree(Spool, out string free), free);
        Assert.True(SpoolLock.TryTake(Spool, wait: false, out SpoolLock? again, out error), error);
        again!.Dispose();
    }

    [Fact]
    public void A_lock_file_left_by_a_dead_process_is_taken_over_and_the_check_leaves_it_as_it_was()
    {
        File.WriteAllText(LockPath, "999999999\n");

        Assert.True(SpoolLock.IsFree(Spool, out string error), error);
        Assert.Equal("999999999\n", ReadUnlocked(LockPath));

        Assert.True(SpoolLock.TryTake(Spool, wait: false, out SpoolLock? held, out error), error);
        using (held)
        {
            Assert.Equal(s_pid + "\n", ReadUnlocked(LockPath));
        }
    }

    [Fact]
    public void A_link_planted_at_the_lock_path_is_refused_and_its_target_left_alone()
    {
        string target = Path.Combine(_dir, "precious.txt");
        File.WriteAllText(target, "keep me");
        File.CreateSymbolicLink(LockPath, target);

        Assert.False(SpoolLock.TryTake(Spool, wait: false, out SpoolLock? held, out string error));
        Assert.Null(held);
        Assert.Equal($"cannot open the spool's lock file {Spool.Path}.lock: it is a symbolic link", error);
        Assert.Equal("keep me", File.ReadAllText(target));
    }

    [Fact]
    public void Without_a_writable_directory_there_is_no_lock_to_take_and_the_spool_warning_says_why()
    {
        var spool = new Spool(Path.Combine(_dir, "missing", "spool.txt"));

        Assert.True(SpoolLock.TryTake(spool, wait: false, out SpoolLock? held, out string error), error);
        Assert.Null(held);
        Assert.NotNull(spool.CheckDirectory());
    }

    [Fact]
    public async Task A_waiting_taker_gets_the_lock_when_the_holder_lets_go()
    {
        Assert.True(SpoolLock.TryTake(Spool, wait: false, out SpoolLock? held, out string error), error);
        bool taken = false;
        Task waiter = Dedicated.Run(() =>
        {
            taken = SpoolLock.TryTake(Spool, wait: true, out SpoolLock? next, out string waitError) && waitError.Length == 0;
            next?.Dispose();
        });

        // The kernel lists a blocked flock as "->" under the lock it waits for, with the waiter's PID (proc(5),
        // /proc/locks); no other test of this process waits on a lock.
        await Wait.Until(() => File.ReadLines("/proc/locks").Any(l => l.Contains("-> FLOCK", StringComparison.Ordinal)
            && l.Contains($" {s_pid} ", StringComparison.Ordinal)), "the second taker to wait for the lock");
        Assert.False(waiter.IsCompleted);

        held!.Dispose();
        await waiter.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(taken);
    }
}
