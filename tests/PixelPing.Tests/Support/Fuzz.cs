using System.Globalization;

namespace PixelPing.Tests.Support;

/// <summary>
/// Time budgets and seeds for the fuzz tests. The normal run is short and seeded, so it is the same every time;
/// <c>PIXELPING_FUZZ_SECONDS=600 ./build.sh test --filter FullyQualifiedName~Fuzz</c> runs each fuzz test that long, from a fresh seed
/// printed in the test output (<c>PIXELPING_FUZZ_SEED</c> replays one).
/// </summary>
public static class Fuzz
{
    private static readonly double? s_seconds = double.TryParse(Environment.GetEnvironmentVariable("PIXELPING_FUZZ_SECONDS"),
        NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0 ? seconds : null;

    /// <summary>True when a longer run was asked for.</summary>
    public static bool Long => s_seconds is not null;

    /// <summary>How long a fuzz test runs: <paramref name="normal"/>, or the requested time in the long mode.</summary>
    public static TimeSpan Budget(TimeSpan normal) => s_seconds is { } seconds ? TimeSpan.FromSeconds(seconds) : normal;

    /// <summary>The seed: PIXELPING_FUZZ_SEED if set, a fresh one in the long mode, else <paramref name="fixedSeed"/>.</summary>
    public static int Seed(int fixedSeed)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("PIXELPING_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int seed))
        {
            return seed;
        }

        return Long ? Random.Shared.Next() : fixedSeed;
    }

    /// <summary>Small edits that tend to find parser bugs: flip, insert, delete, truncate, repeat a slice, splice a line.</summary>
    public static byte[] Mutate(Random random, byte[] seed, ReadOnlySpan<byte> interesting, IReadOnlyList<byte[]> splices)
    {
        var bytes = new List<byte>(seed);
        int edits = random.Next(1, 5);
        for (int e = 0; e < edits; e++)
        {
            if (bytes.Count == 0)
            {
                bytes.Add(interesting[random.Next(interesting.Length)]);
                continue;
            }

            int at = random.Next(bytes.Count);
            byte value = random.Next(2) == 0 ? (byte)random.Next(256) : interesting[random.Next(interesting.Length)];
            switch (random.Next(7))
            {
                case 0:
                    bytes[at] = value;
                    break;
                case 1:
                    bytes.Insert(at, value);
                    break;
                case 2:
                    bytes.RemoveAt(at);
                    break;
                case 3:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
                case 4:
                    int length = random.Next(1, Math.Min(64, bytes.Count - at) + 1);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    break;
                case 5:
                    bytes.InsertRange(at, splices[random.Next(splices.Count)]);
                    break;
                default:
                    // Swap two bytes far apart: reorders separators, headers and escapes.
                    int other = random.Next(bytes.Count);
                    (bytes[at], bytes[other]) = (bytes[other], bytes[at]);
                    break;
            }
        }

        return [.. bytes];
    }
}
