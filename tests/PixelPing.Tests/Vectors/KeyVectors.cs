using System.Globalization;
using System.Text;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Vectors;

/// <summary>One row of keys.tsv: what pixel-ping 0.1.6 on Node 20 does with a query.</summary>
internal sealed record KeyVector(string Query, bool Counted, string Key, string JsonValue);

/// <summary>
/// Reads tests/PixelPing.Tests/Vectors/keys.tsv: one row per query, with what pixel-ping 0.1.6 on Node 20 does with it.
/// </summary>
internal static class KeyVectors
{
    private static readonly Lazy<IReadOnlyList<KeyVector>> s_all = new(Load);

    public static IReadOnlyList<KeyVector> All => s_all.Value;

    public static TheoryData<string> Queries(bool counted)
    {
        var data = new TheoryData<string>();
        foreach (KeyVector vector in All)
        {
            if (vector.Counted == counted)
            {
                data.Add(vector.Query);
            }
        }

        return data;
    }

    public static KeyVector Get(string query) => All.Single(v => v.Query == query);

    private static List<KeyVector> Load()
    {
        byte[] copy = File.ReadAllBytes(Path.Combine(Repo.Root, "tests", "PixelPing.Tests", "Vectors", "keys.tsv"));

        var vectors = new List<KeyVector>();
        foreach (string line in Encoding.UTF8.GetString(copy).Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            string[] columns = line.Split('\t');
            if (columns.Length != 4 || (columns[1] != "yes" && columns[1] != "no"))
            {
                throw new InvalidOperationException($"Malformed keys.tsv line: {line}");
            }

            vectors.Add(new KeyVector(columns[0], columns[1] == "yes", FromCodePoints(columns[2]), columns[3]));
        }

        return vectors.Count > 0 ? vectors : throw new InvalidOperationException("keys.tsv has no rows");
    }

    private static string FromCodePoints(string column)
    {
        var key = new StringBuilder();
        foreach (string hex in column.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            key.Append(char.ConvertFromUtf32(int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
        }

        return key.ToString();
    }
}
