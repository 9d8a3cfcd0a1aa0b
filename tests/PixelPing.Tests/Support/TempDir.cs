namespace PixelPing.Tests.Support;

/// <summary>Fresh directories under the system temp folder, one per test.</summary>
public static class TempDir
{
    public static string Create()
    {
        string path = Path.Combine(Path.GetTempPath(), "pixel-ping-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
