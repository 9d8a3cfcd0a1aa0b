namespace PixelPing.Tests.Support;

/// <summary>Paths in the repository, found from the test assembly's folder.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    /// <summary>
    /// The published native-AOT executable under test: dist/pixel-ping (<c>./build.sh</c> makes it; <c>./build.sh
    /// test</c> builds it first), or the one <c>PIXEL_PING_TEST_BINARY</c> names (<c>./build.sh --arch arm64 test</c>
    /// sets it to the linux-arm64 build). Not <c>PIXELPING_*</c>: the executable reads those as config overrides.
    /// </summary>
    public static string Binary
    {
        get
        {
            string path = Environment.GetEnvironmentVariable("PIXEL_PING_TEST_BINARY") is { Length: > 0 } named
                ? named
                : Path.Combine(Root, "dist", "pixel-ping");
            Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh (./build.sh test publishes it before testing)");
            return path;
        }
    }

    /// <summary>
    /// The emulator that runs <see cref="Binary"/> when it is built for another architecture (qemu-aarch64-static, an
    /// absolute path), from <c>PIXEL_PING_TEST_RUNNER</c>; null when the executable runs natively.
    /// </summary>
    public static string? Runner
    {
        get
        {
            string? runner = Environment.GetEnvironmentVariable("PIXEL_PING_TEST_RUNNER") is { Length: > 0 } named ? named : null;
            Assert.True(runner is null || File.Exists(runner), $"PIXEL_PING_TEST_RUNNER names {runner}, which is missing");
            return runner;
        }
    }

    /// <summary>The words that run an executable: the emulator first when there is one, then the executable.</summary>
    public static string[] CommandFor(string binary) => Runner is { } runner ? [runner, binary] : [binary];

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
