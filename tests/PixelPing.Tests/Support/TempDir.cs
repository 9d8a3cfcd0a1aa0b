using System.Collections.Concurrent;

namespace PixelPing.Tests.Support;

/// <summary>Fresh directories under the system temp folder, one per test, deleted when the test run ends.</summary>
public static class TempDir
{
    private static readonly ConcurrentBag<string> s_created = CreateBag();

    public static string Create()
    {
        string path = Path.Combine(Path.GetTempPath(), "pixel-ping-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        s_created.Add(path);
        return path;
    }

    private static ConcurrentBag<string> CreateBag()
    {
        var created = new ConcurrentBag<string>();
        // At the end of the run rather than of each test: a server process a test started may still be writing there
        // while the test's own cleanup runs.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (string path in created)
            {
                try
                {
                    Directory.Delete(path, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Left for the system's temp cleaner; a test run must not fail on its way out.
                }
            }
        };
        return created;
    }
}
