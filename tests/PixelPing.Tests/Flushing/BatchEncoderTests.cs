using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using PixelPing.Counting;
using PixelPing.Flushing;
using PixelPing.Tests.Vectors;

namespace PixelPing.Tests.Flushing;

public sealed class BatchEncoderTests
{
    // JSON.stringify(String.fromCharCode(i)) for i = 0..31, quotes removed, as printed by Node 20.
    private static readonly string[] s_nodeControlEscapes =
    [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007", "\\b", "\\t", "\\n",
        "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015",
        "\\u0016", "\\u0017", "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ];

    public static TheoryData<string> CountedVectors => KeyVectors.Queries(counted: true);

    [Theory]
    [MemberData(nameof(CountedVectors))]
    public void Body_carries_the_originals_json_field(string query)
    {
        KeyVector vector = KeyVectors.Get(query);

        byte[] body = Body([Entry(Encoding.UTF8.GetBytes(vector.Key), 1)], "b1", null);

        Assert.Equal("json=" + vector.JsonValue + "&batch=b1&from=1700000000&to=1700000059", Encoding.ASCII.GetString(body));
    }

    [Theory]
    [MemberData(nameof(CountedVectors))]
    public void Decoded_key_encodes_to_the_originals_json_field(string query)
    {
        KeyVector vector = KeyVectors.Get(query);
        var destination = new byte[1024];
        Assert.Equal(KeyStatus.Found, KeyDecoder.Decode(Encoding.UTF8.GetBytes(query), destination, out int written));

        byte[] body = Body([Entry(destination[..written], 1)], "b1", null);

        Assert.StartsWith("json=" + vector.JsonValue + "&", Encoding.ASCII.GetString(body), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_control_character_is_escaped_as_json_stringify_does()
    {
        for (int c = 0; c < 0x20; c++)
        {
            Assert.Equal("{\"a" + s_nodeControlEscapes[c] + "b\":1}", Json([Entry([(byte)'a', (byte)c, (byte)'b'], 1)]));
        }
    }

    [Theory]
    [InlineData("\"", "\\\"")]
    [InlineData("\\", "\\\\")]
    [InlineData("a\"b\\c", "a\\\"b\\\\c")]
    [InlineData("\\u0041", "\\\\u0041")]
    [InlineData("/", "/")] // JSON.stringify does not escape '/'
    [InlineData("\u007F", "\u007F")]
    [InlineData("\u0080", "\u0080")]
    [InlineData("caf\u00E9", "caf\u00E9")]
    [InlineData("\u2028\u2029", "\u2028\u2029")]
    [InlineData("\U0001F600", "\U0001F600")]
    [InlineData("\uFFFD", "\uFFFD")]
    [InlineData("__proto__", "__proto__")]
    [InlineData("", "")]
    public void Json_string_escaping(string key, string expectedContent)
    {
        Assert.Equal("{\"" + expectedContent + "\":1}", Json([Entry(Encoding.UTF8.GetBytes(key), 1)]));
    }

    [Theory]
    [InlineData("FF", "\uFFFD")]
    [InlineData("80", "\uFFFD")]
    [InlineData("C3", "\uFFFD")]
    [InlineData("61C328", "a\uFFFD(")]
    [InlineData("EDA080", "\uFFFD\uFFFD\uFFFD")] // UTF-8-encoded lone high surrogate
    [InlineData("EDB080", "\uFFFD\uFFFD\uFFFD")] // UTF-8-encoded lone low surrogate
    [InlineData("C0AF", "\uFFFD\uFFFD")] // overlong '/'
    [InlineData("E08080", "\uFFFD\uFFFD\uFFFD")] // overlong NUL
    [InlineData("F4908080", "\uFFFD\uFFFD\uFFFD\uFFFD")] // above U+10FFFF
    [InlineData("F09F98", "\uFFFD")] // truncated emoji
    [InlineData("F09F988080", "\U0001F600\uFFFD")]
    [InlineData("E29C93E29C", "\u2713\uFFFD")]
    [InlineData("FF22FF", "\uFFFD\\\"\uFFFD")]
    public void Invalid_utf8_in_a_key_becomes_replacement_characters(string keyHex, string expectedContent)
    {
        string json = Json([Entry(Convert.FromHexString(keyHex), 1)]);

        Assert.Equal("{\"" + expectedContent + "\":1}", json);
    }

    [Fact]
    public void Object_keeps_order_and_writes_counts_as_integers()
    {
        KeyValuePair<byte[], long>[] entries =
        [
            Entry("b"u8.ToArray(), 2),
            Entry("a"u8.ToArray(), 0),
            Entry("b"u8.ToArray(), long.MaxValue),
            Entry("c"u8.ToArray(), 1234567890123),
        ];

        Assert.Equal("{\"b\":2,\"a\":0,\"b\":9223372036854775807,\"c\":1234567890123}", Json(entries));
        Assert.Equal("{}", Json([]));
        Assert.Equal("json=%7B%7D&batch=x&from=1700000000&to=1700000059", Encoding.ASCII.GetString(Body([], "x", null)));
    }

    [Fact]
    public void Every_byte_value_is_form_encoded_as_encode_uri_component_does()
    {
        // Through the secret field: code points U+0000 to U+00FF give every ASCII byte and, as UTF-8, bytes 0x80-0xC3.
        for (int c = 0; c < 256; c++)
        {
            string text = ((char)c).ToString();
            string expected = string.Concat(Encoding.UTF8.GetBytes(text).Select(ReferenceFormEncoding));

            Assert.Equal(expected, FormEncoded(text));
        }
    }

    [Fact]
    public void Ascii_form_encoding_matches_node()
    {
        // let s = ""; for (let i = 0; i < 128; i++) s += encodeURIComponent(String.fromCharCode(i)), on Node 20.
        const string Node =
            "%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14%15%16%17%18%19%1A%1B%1C%1D%1E%1F%20!%22%23%24" +
            "%25%26'()*%2B%2C-.%2F0123456789%3A%3B%3C%3D%3E%3F%40ABCDEFGHIJKLMNOPQRSTUVWXYZ%5B%5C%5D%5E_%60abcdefghijklmnopq" +
            "rstuvwxyz%7B%7C%7D~%7F";
        string ascii = string.Concat(Enumerable.Range(0, 128).Select(b => (char)b));

        Assert.Equal(Node, FormEncoded(ascii));
    }

    [Theory]
    [InlineData(" ", "%20")]
    [InlineData("+", "%2B")]
    [InlineData("a b+c", "a%20b%2Bc")]
    [InlineData("\u00E9", "%C3%A9")]
    [InlineData("\U0001F600", "%F0%9F%98%80")]
    [InlineData("", "")]
    public void Form_encoding_examples(string text, string expected)
    {
        Assert.Equal(expected, FormEncoded(text));
    }

    [Fact]
    public void Secret_batch_and_times_are_encoded_and_follow_the_json()
    {
        byte[] body = Body([Entry("a b"u8.ToArray(), 2)], "b-1/2 x", "s&=+ \u00E9\U0001F600");

        // qs.stringify({json: JSON.stringify({"a b": 2}), secret: "s&=+ é😀"}) and encodeURIComponent("b-1/2 x"), Node 20;
        // then the first and last hit's Unix seconds, which the original did not send.
        Assert.Equal(
            "json=%7B%22a%20b%22%3A2%7D&secret=s%26%3D%2B%20%C3%A9%F0%9F%98%80&batch=b-1%2F2%20x&from=1700000000&to=1700000059",
            Encoding.ASCII.GetString(body));
    }

    [Fact]
    public void Null_secret_leaves_the_field_out_but_an_empty_one_is_sent()
    {
        Assert.Equal("json=%7B%7D&batch=1&from=1700000000&to=1700000059", Encoding.ASCII.GetString(Body([], "1", null)));
        Assert.Equal("json=%7B%7D&secret=&batch=1&from=1700000000&to=1700000059", Encoding.ASCII.GetString(Body([], "1", "")));
    }

    [Fact]
    public void Lone_surrogate_in_secret_is_sent_as_replacement_character()
    {
        byte[] body = Body([], "1", "a\uD800b");

        Assert.Equal("json=%7B%7D&secret=a%EF%BF%BDb&batch=1&from=1700000000&to=1700000059", Encoding.ASCII.GetString(body));
    }

    [Fact]
    public void Body_round_trips_through_a_form_decoder_and_json_parser()
    {
        string[] keys =
        [
            "__proto__", "constructor", "toString", "hasOwnProperty", "a\"b", "back\\slash", "\\\"", "", " ", "+", "%", "&=",
            "new\nline", "tab\tcr\r", string.Concat(Enumerable.Range(0, 0x20).Select(c => (char)c)), "\u007F", "caf\u00E9",
            "\U0001F600", "\u2028", "document:42:http://example.com/a?b=c&d=e#f", "\uFFFD",
        ];
        KeyValuePair<byte[], long>[] entries =
        [
            .. keys.Select((key, i) => Entry(Encoding.UTF8.GetBytes(key), (i * 7919L) + 1)),
        ];

        byte[] body = Body(entries, "batch-7", "top&secret=+");

        Dictionary<string, string> form = DecodeForm(body, out List<string> order);
        Assert.Equal(["json", "secret", "batch", "from", "to"], order);
        Assert.Equal("top&secret=+", form["secret"]);
        Assert.Equal("batch-7", form["batch"]);
        Assert.Equal("1700000000", form["from"]);
        Assert.Equal("1700000059", form["to"]);
        Assert.Equal(entries.Select(e => (Encoding.UTF8.GetString(e.Key), e.Value)), ParseCounts(form["json"]));
    }

    [Fact]
    public void Large_batch_round_trips()
    {
        // What encoding allocates is EncodingInPiecesNeverHoldsTheWholeBody's business (and FlushAllocationTests').
        KeyValuePair<byte[], long>[] entries = ManyEntries(100_000);
        byte[] body = Body(entries, "big", "s");
        Dictionary<string, string> form = DecodeForm(body, out _);
        Assert.Equal(entries.Select(e => (Encoding.UTF8.GetString(e.Key), e.Value)), ParseCounts(form["json"]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    [InlineData(64 * 1024)]
    public void Body_in_pieces_is_the_same_bytes_as_the_whole_body(int chunkSize)
    {
        KeyValuePair<byte[], long>[] entries =
        [
            .. ManyEntries(3000),
            Entry(Encoding.UTF8.GetBytes("ctl\u0001\u001f\"\\\U0001F600"), 5),
            Entry([0xFF, 0xED, 0xA0, 0x80, (byte)'x'], 6),
        ];
        foreach (string? secret in new[] { null, "", "s&=+ \u00E9" })
        {
            byte[] whole = Body(entries, "batch-1", secret);
            var pieces = new List<byte>();
            int count = 0;
            foreach (ReadOnlyMemory<byte> piece in BatchEncoder.EncodeBodyChunks(Batch(entries, "batch-1"), secret, chunkSize))
            {
                pieces.AddRange(piece.ToArray());
                count++;
            }

            Assert.Equal(whole, pieces.ToArray());
            Assert.True(count >= Math.Min(entries.Length, whole.Length / (chunkSize + (2 * 1024))), $"{count} pieces");
            if (secret is not null)
            {
                Assert.Equal(Sign([whole], secret), Sign(BatchEncoder.EncodeBodyChunks(Batch(entries, "batch-1"), secret, chunkSize), secret));
            }
        }

        Assert.Equal(Body([], "x", null), BatchEncoder.EncodeBodyChunks(Batch([], "x"), null, chunkSize).SelectMany(p => p.ToArray()).ToArray());
    }

    private static string Sign(IEnumerable<ReadOnlyMemory<byte>> pieces, string secret)
    {
        using var mac = Signature.Start(secret);
        foreach (ReadOnlyMemory<byte> piece in pieces)
        {
            mac.AppendData(piece.Span);
        }

        return Signature.Finish(mac);
    }

    [Fact]
    public void Encoding_in_pieces_never_holds_the_whole_body()
    {
        // Keys of control characters: the worst case, eight body bytes per key byte.
        KeyValuePair<byte[], long>[] entries =
        [
            .. Enumerable.Range(0, 2000).Select(i => Entry([.. Encoding.ASCII.GetBytes(i.ToString(CultureInfo.InvariantCulture)), .. new byte[1000]], 1)),
        ];
        long length = 0;
        foreach (ReadOnlyMemory<byte> piece in BatchEncoder.EncodeBodyChunks(Batch(entries, "warm"), null))
        {
            length += piece.Length;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        long again = 0;
        foreach (ReadOnlyMemory<byte> piece in BatchEncoder.EncodeBodyChunks(Batch(entries, "warm"), null))
        {
            again += piece.Length;
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(length, again);
        Assert.True(length > 8L * 1000 * 2000, $"body of {length} bytes");
        Assert.True(allocated < 256 * 1024, $"allocated {allocated} bytes for a {length}-byte body");
    }

    private static KeyValuePair<byte[], long> Entry(byte[] key, long count) => new(key, count);

    // A batch whose hits were counted from 2023-11-14T22:13:20Z to a minute later.
    private static Batch Batch(IReadOnlyList<KeyValuePair<byte[], long>> entries, string batchId) =>
        new(batchId, [.. entries]) { From = 1_700_000_000, To = 1_700_000_059 };

    // The body as the HTTP endpoint sends it: the pieces one after another.
    private static byte[] Body(IReadOnlyList<KeyValuePair<byte[], long>> entries, string batchId, string? secret) =>
        [.. BatchEncoder.EncodeBodyChunks(Batch(entries, batchId), secret).SelectMany(piece => piece.ToArray())];

    // The JSON text of the body's json= field.
    private static string Json(IReadOnlyList<KeyValuePair<byte[], long>> entries) => DecodeForm(Body(entries, "x", null), out _)["json"];

    // The form encoding of a text, as the body's secret= field carries it.
    private static string FormEncoded(string text)
    {
        string body = Encoding.ASCII.GetString(Body([], "x", text));
        return body["json=%7B%7D&secret=".Length..^"&batch=x&from=1700000000&to=1700000059".Length];
    }

    private static KeyValuePair<byte[], long>[] ManyEntries(int count) =>
    [
        .. Enumerable.Range(0, count).Select(i => Entry(
            Encoding.UTF8.GetBytes(i % 10 == 0
                ? $"caf\u00E9 \"{i}\" \U0001F600"
                : $"document:{i}:http://example.com/page/{i}?ref=feed"),
            (i % 97) + 1)),
    ];

    // encodeURIComponent, derived independently: .NET's EscapeDataString for ASCII (RFC 3986 keeps A-Z a-z 0-9 - . _ ~),
    // except ! * ' ( ) which encodeURIComponent keeps and EscapeDataString escapes; every byte >= 0x80 as %XX.
    private static string ReferenceFormEncoding(byte b)
    {
        if (b >= 0x80)
        {
            return "%" + b.ToString("X2", CultureInfo.InvariantCulture);
        }

        return "!*'()".Contains((char)b, StringComparison.Ordinal) ? ((char)b).ToString() : Uri.EscapeDataString(((char)b).ToString());
    }

    // A plain application/x-www-form-urlencoded reader: split on '&' and the first '=', '%XX' to bytes, UTF-8.
    private static Dictionary<string, string> DecodeForm(byte[] body, out List<string> order)
    {
        var fields = new Dictionary<string, string>();
        order = [];
        foreach (string pair in Encoding.ASCII.GetString(body).Split('&'))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            string name = PercentDecode(pair[..equals]);
            fields.Add(name, PercentDecode(pair[(equals + 1)..]));
            order.Add(name);
        }

        return fields;
    }

    private static string PercentDecode(string text)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < text.Length; i++)
        {
            Assert.NotEqual('+', text[i]); // encodeURIComponent never writes '+' for a space
            if (text[i] == '%')
            {
                bytes.Add(byte.Parse(text.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                i += 2;
            }
            else
            {
                bytes.Add(checked((byte)text[i]));
            }
        }

        return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString([.. bytes]);
    }

    private static List<(string Key, long Count)> ParseCounts(string json)
    {
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateObject().Select(p => (p.Name, p.Value.GetInt64()))];
    }
}
