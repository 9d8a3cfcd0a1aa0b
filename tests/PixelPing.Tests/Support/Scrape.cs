using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace PixelPing.Tests.Support;

/// <summary>Prometheus text read back into samples, and Debian's promtool as the judge of the format.</summary>
public static class Scrape
{
    /// <summary>Every sample line as "name{labels}" → value; HELP/TYPE comments are skipped.</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            int space = line.LastIndexOf(' ');
            string value = line[(space + 1)..];
            samples.Add(line[..space], value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                _ => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
            });
        }

        return samples;
    }

    /// <summary>Runs <c>promtool check metrics</c> on the text; returns its exit code and what it printed.</summary>
    public static (int Code, string Output) PromtoolCheck(string text)
    {
        var info = new ProcessStartInfo("promtool")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("check");
        info.ArgumentList.Add("metrics");
        using var promtool = Process.Start(info) ?? throw new InvalidOperationException("promtool did not start (apt-get install prometheus)");
        Task<string> stdout = promtool.StandardOutput.ReadToEndAsync();
        Task<string> stderr = promtool.StandardError.ReadToEndAsync();
        promtool.StandardInput.Write(text);
        promtool.StandardInput.Close();
        Assert.True(promtool.WaitForExit(30_000), "promtool did not finish");
        return (promtool.ExitCode, stdout.Result + stderr.Result);
    }

    public static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
