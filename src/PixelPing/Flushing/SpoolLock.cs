using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;
using PixelPing.Interop;

namespace PixelPing.Flushing;

/// <summary>
/// Keeps two processes off one spool file: an exclusive flock(2) on <c>&lt;spool&gt;.lock</c>, held while the server
/// runs, with the holder's PID written in the file for the line the next process prints. The lock is on a file of its
/// own because the spool itself is replaced by rename at every save. The kernel drops the lock when its process ends,
/// however it ends, so a lock file left behind by a dead process is no obstacle: only the lock counts, never the file.
/// </summary>
internal sealed class SpoolLock : IDisposable
{
    // rw------- : as the spool file.
    private const int FileMode0600 = 0x180;

    private readonly SafeFileHandle _file;

    private SpoolLock(SafeFileHandle file) => _file = file;

    /// <summary>
    /// Takes the lock for this process's lifetime. When another process holds it: false and one line naming that
    /// process, or, with <paramref name="wait"/> (a restart through sockets the service manager keeps open), a line
    /// saying so and a wait until that process exits, after it has written what it leaves in the spool. True with no
    /// lock when the spool's directory cannot be written: then nothing can be saved there by anyone, and the spool's
    /// own warning says why.
    /// </summary>
    public static bool TryTake(Spool spool, bool wait, out SpoolLock? held, out string error) =>
        TryLock(spool, wait, claim: true, out held, out error);

    /// <summary><c>--check</c>: whether a start could take the lock now; it is let go at once and the file left as it was.</summary>
    public static bool IsFree(Spool spool, out string error)
    {
        bool free = TryLock(spool, wait: false, claim: false, out SpoolLock? held, out error);
        held?.Dispose();
        return free;
    }

    private static bool TryLock(Spool spool, bool wait, bool claim, out SpoolLock? held, out string error)
    {
        held = null;
        error = "";
        if (spool.CheckDirectory() is not null)
        {
            return true;
        }

        string shown = spool.Path + ".lock";
        // Not through a link: the PID is written into this file, and a link planted here must not aim that elsewhere.
        int fd = Libc.open(Libc.Path(spool.FullPath + ".lock"),
            Libc.O_RDWR | Libc.O_CREAT | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, FileMode0600);
        if (fd < 0)
        {
            int errno = Libc.Errno;
            error = $"cannot open the spool's lock file {shown}: {(errno == Libc.ELOOP ? "it is a symbolic link" : Libc.Describe(errno))}";
            return false;
        }

        var file = new SafeFileHandle(fd, ownsHandle: true);
        if (Libc.flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            int errno = Libc.Errno;
            string holder = Holder(file);
            if (errno != Libc.EAGAIN || !wait)
            {
                file.Dispose();
                error = errno == Libc.EAGAIN
                    ? $"{spool.Path} is in use by {holder} (it holds {shown}); two processes must not share one spool file"
                    : $"cannot lock {shown}: {Libc.Describe(errno)}";
                return false;
            }

            Log.Out($"--- spool: {spool.Path} is in use by {holder}; waiting for it to exit before taking it over");
            while (Libc.flock(fd, Libc.LOCK_EX) != 0)
            {
                if (Libc.Errno != Libc.EINTR)
                {
                    error = $"cannot lock {shown}: {Libc.Describe(Libc.Errno)}";
                    file.Dispose();
                    return false;
                }
            }
        }

        if (claim)
        {
            byte[] pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
            try
            {
                Libc.ftruncate(fd, 0);
                RandomAccess.Write(file, pid, 0);
            }
            catch (IOException)
            {
                // A full disk: the lock holds all the same; the next process's line says "another process".
            }
        }

        held = new SpoolLock(file);
        return true;
    }

    /// <summary>"process 1234", from the PID its holder wrote; "another process" before the holder has written it.</summary>
    private static string Holder(SafeFileHandle file)
    {
        Span<byte> text = stackalloc byte[16];
        int length = RandomAccess.Read(file, text, 0);
        return int.TryParse(Encoding.ASCII.GetString(text[..length]).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            ? "process " + pid.ToString(CultureInfo.InvariantCulture)
            : "another process";
    }

    /// <summary>Lets the lock go (the file stays; see the class remarks).</summary>
    public void Dispose() => _file.Dispose();
}
