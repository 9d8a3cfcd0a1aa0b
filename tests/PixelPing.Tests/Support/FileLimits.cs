using System.Runtime.InteropServices;

namespace PixelPing.Tests.Support;

/// <summary>
/// The open-file limit of the test process. Flood tests hold thousands of sockets, and CI machines often start with
/// a soft limit of 1024; the soft limit may be raised up to the hard one without privileges, and child processes
/// (the server under test) inherit it.
/// </summary>
public static partial class FileLimits
{
    private const int RLIMIT_NOFILE = 7;

    /// <summary>Raises the soft limit towards <paramref name="wanted"/> (never past the hard limit); returns the soft limit now in force.</summary>
    public static long RaiseTo(long wanted)
    {
        Assert.Equal(0, getrlimit(RLIMIT_NOFILE, out RLimit limit));
        if (limit.Current < (ulong)wanted && limit.Current < limit.Maximum)
        {
            var raised = new RLimit { Current = Math.Min((ulong)wanted, limit.Maximum), Maximum = limit.Maximum };
            Assert.Equal(0, setrlimit(RLIMIT_NOFILE, in raised));
            limit = raised;
        }

        return (long)Math.Min(limit.Current, long.MaxValue);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);
}
