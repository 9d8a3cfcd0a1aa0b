using PixelPing.Monitoring;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Monitoring;

public sealed class MetricsWriterTests
{
    [Fact]
    public void Families_samples_labels_and_special_values_are_valid_exposition_text()
    {
        var writer = new MetricsWriter();
        writer.Family("test_things_total"u8, MetricType.Counter, "Things counted."u8);
        writer.Sample("test_things_total"u8, "code"u8, "200", 12);
        writer.Sample("test_things_total"u8, "code"u8, "a \"quoted\" \\ back\nslash é", long.MaxValue);
        writer.Family("test_level"u8, MetricType.Gauge, "A level."u8);
        writer.Sample("test_level"u8, 0.25);
        writer.Family("test_nan"u8, MetricType.Gauge, "Not a number."u8);
        writer.Sample("test_nan"u8, double.NaN);
        writer.Family("test_inf"u8, MetricType.Gauge, "Infinite."u8);
        writer.Sample("test_inf"u8, double.PositiveInfinity);
        writer.Family("test_big"u8, MetricType.Gauge, "Large."u8);
        writer.Sample("test_big"u8, 1e300);

        string text = Scrape.Utf8(writer.Written);
        Assert.Equal(
            "# HELP test_things_total Things counted.\n# TYPE test_things_total counter\n" +
            "test_things_total{code=\"200\"} 12\n" +
            "test_things_total{code=\"a \\\"quoted\\\" \\\\ back\\nslash é\"} 9223372036854775807\n" +
            "# HELP test_level A level.\n# TYPE test_level gauge\ntest_level 0.25\n" +
            "# HELP test_nan Not a number.\n# TYPE test_nan gauge\ntest_nan NaN\n" +
            "# HELP test_inf Infinite.\n# TYPE test_inf gauge\ntest_inf +Inf\n" +
            "# HELP test_big Large.\n# TYPE test_big gauge\ntest_big 1E+300\n",
            text);
        var (code, output) = Scrape.PromtoolCheck(text);
        Assert.True(code == 0, output);

        // Reset reuses the buffer: the next scrape starts empty.
        writer.Reset();
        Assert.Equal(0, writer.Written.Length);
    }

    [Fact]
    public void Process_metrics_agree_with_what_the_runtime_reports_for_this_process()
    {
        var writer = new MetricsWriter();
        ProcessMetrics.Write(writer);
        string text = Scrape.Utf8(writer.Written);
        var (code, output) = Scrape.PromtoolCheck(text);
        Assert.True(code == 0, output + "\n" + text);
        Dictionary<string, double> samples = Scrape.Parse(text);

        using var self = System.Diagnostics.Process.GetCurrentProcess();
        double started = new DateTimeOffset(self.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;
        Assert.InRange(samples["process_start_time_seconds"], started - 2, started + 2);
        Assert.InRange(samples["process_cpu_seconds_total"], 0.01, self.TotalProcessorTime.TotalSeconds + 1);
        Assert.InRange(samples["process_resident_memory_bytes"], self.WorkingSet64 / 2.0, self.WorkingSet64 * 2.0);
        // Parallel tests in this process open and close thousands of sockets between two looks, so the count here is
        // only bounded; StatusBinaryTests compares it with /proc/<pid>/fd of a quiet published server.
        Assert.InRange(samples["process_open_fds"], 3, samples["process_max_fds"]);
    }
}
