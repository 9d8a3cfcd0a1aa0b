using System.Buffers.Text;
using System.IO.Enumeration;

namespace PixelPing.Monitoring;

/// <summary>
/// The standard <c>process_*</c> metrics every Prometheus client library exports on Linux, read from
/// <c>/proc/self</c> at scrape time (proc(5)): CPU time, resident memory, open and allowed file descriptors, start time.
/// </summary>
internal static class ProcessMetrics
{
    // USER_HZ, the unit of the times in /proc/self/stat: 100 on every Linux architecture this program is built for
    // (x86-64 and arm64); client_golang's procfs makes the same assumption rather than calling sysconf.
    private const double TicksPerSecond = 100;

    public static void Write(MetricsWriter writer)
    {
        if (TryReadStat(out long cpuTicks, out long startTicks, out long rssPages))
        {
            writer.Family("process_cpu_seconds_total"u8, MetricType.Counter, "Total user and system CPU time spent in seconds."u8);
            writer.Sample("process_cpu_seconds_total"u8, cpuTicks / TicksPerSecond);
            writer.Family("process_resident_memory_bytes"u8, MetricType.Gauge, "Resident memory size in bytes."u8);
            writer.Sample("process_resident_memory_bytes"u8, rssPages * Environment.SystemPageSize);
            if (TryReadField("/proc/stat", "btime "u8, out long bootSeconds))
            {
                writer.Family("process_start_time_seconds"u8, MetricType.Gauge, "Start time of the process since unix epoch in seconds."u8);
                writer.Sample("process_start_time_seconds"u8, bootSeconds + startTicks / TicksPerSecond);
            }
        }

        writer.Family("process_open_fds"u8, MetricType.Gauge, "Number of open file descriptors."u8);
        writer.Sample("process_open_fds"u8, CountOpenFds());
        if (TryReadField("/proc/self/limits", "Max open files"u8, out long maxFds))
        {
            writer.Family("process_max_fds"u8, MetricType.Gauge, "Maximum number of open file descriptors."u8);
            writer.Sample("process_max_fds"u8, maxFds);
        }
    }

    /// <summary>utime + stime, starttime (clock ticks) and rss (pages) from <c>/proc/self/stat</c>.</summary>
    private static bool TryReadStat(out long cpuTicks, out long startTicks, out long rssPages)
    {
        cpuTicks = startTicks = rssPages = 0;
        if (SmallFile.TryRead("/proc/self/stat", 4096, out byte[] bytes, out int length, out _) != SmallFileError.None)
        {
            return false;
        }

        // The command name in parentheses may hold spaces; the numbered fields start after its closing parenthesis
        // with field 3 (state). utime is field 14, stime 15, starttime 22, rss 24.
        ReadOnlySpan<byte> rest = bytes.AsSpan(0, length);
        int close = rest.LastIndexOf((byte)')');
        if (close < 0)
        {
            return false;
        }

        rest = rest[(close + 2)..];
        long utime = 0;
        for (int field = 3; field <= 24; field++)
        {
            int space = rest.IndexOf((byte)' ');
            ReadOnlySpan<byte> value = space < 0 ? rest : rest[..space];
            rest = space < 0 ? default : rest[(space + 1)..];
            switch (field)
            {
                case 14 when Utf8Parser.TryParse(value, out utime, out _):
                    break;
                case 15 when Utf8Parser.TryParse(value, out long stime, out _):
                    cpuTicks = utime + stime;
                    break;
                case 22 when Utf8Parser.TryParse(value, out long start, out _):
                    startTicks = start;
                    break;
                case 24 when Utf8Parser.TryParse(value, out long rss, out _):
                    rssPages = rss;
                    return true;
            }
        }

        return false;
    }

    /// <summary>The first number after <paramref name="label"/> at the start of a line of a small /proc file.</summary>
    private static bool TryReadField(string path, ReadOnlySpan<byte> label, out long value)
    {
        value = 0;
        if (SmallFile.TryRead(path, 64 * 1024, out byte[] bytes, out int length, out _) != SmallFileError.None)
        {
            return false;
        }

        ReadOnlySpan<byte> text = bytes.AsSpan(0, length);
        while (!text.IsEmpty)
        {
            int end = text.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? text : text[..end];
            text = end < 0 ? default : text[(end + 1)..];
            if (line.StartsWith(label))
            {
                // "unlimited" does not parse, and then there is no sample: no number would be true.
                return Utf8Parser.TryParse(line[label.Length..].TrimStart((byte)' '), out value, out _);
            }
        }

        return false;
    }

    // Counts the entries of /proc/self/fd without making a string per entry (a busy server has thousands open).
    private static long CountOpenFds()
    {
        long count = 0;
        // No attributes to skip: deciding whether an entry is hidden would stat every descriptor's target.
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = true };
        var entries = new FileSystemEnumerable<byte>("/proc/self/fd", static (ref FileSystemEntry _) => 0, options)
        {
            ShouldIncludePredicate = static (ref FileSystemEntry _) => true,
        };
        foreach (byte _ in entries)
        {
            count++;
        }

        return count;
    }
}
