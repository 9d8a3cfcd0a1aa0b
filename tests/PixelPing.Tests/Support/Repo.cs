namespace PixelPing.Tests.Support;

/// <summary>Paths in the repository, found from the test assembly's folder.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>The published native-AOT executable (<c>./build.sh</c> makes it; <c>./build.sh test</c> builds it first).</summary>
    public static string Binary
    {
        get
        {
            string path = Path.Combine(Root, "dist", "pixel-ping");
            Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh (./build.sh test publishes it before testing)");
            return path;
        }
    }

    private static string FindRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "PixelPing.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("PixelPing.sln not found above " + AppContext.BaseDirectory);
    }
}
