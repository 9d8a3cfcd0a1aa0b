using System.Diagnostics;
using System.Text;
using PixelPing.Counting;
using PixelPing.Tests.Support;
using PixelPing.Tests.Vectors;
using Xunit.Abstractions;

namespace PixelPing.Tests.Counting;

public sealed class KeyDecoderTests(ITestOutputHelper output)
{
    private readonly ITestOutputHelper _output = output;

    private const int DefaultLimit = 1024;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static TheoryData<string> CountedVectors => KeyVectors.Queries(counted: true);

    public static TheoryData<string> UncountedVectors => KeyVectors.Queries(counted: false);

    [Theory]
    [MemberData(nameof(CountedVectors))]
    public void Counted_vector_decodes_to_the_originals_key(string query)
    {
        KeyVector vector = KeyVectors.Get(query);

        (KeyStatus status, string? key) = Decode(Encoding.UTF8.GetBytes(query));

        Assert.Equal(KeyStatus.Found, status);
        Assert.Equal(CodePoints(vector.Key), CodePoints(key!));
    }

    [Theory]
    [MemberData(nameof(UncountedVectors))]
    public void Uncounted_vector_finds_no_key(string query)
    {
        (KeyStatus status, _) = Decode(Encoding.UTF8.GetBytes(query));

        Assert.Equal(KeyStatus.None, status);
    }

    // Expected values from Node 20: JSON.stringify(require('url').parse('/pixel.gif?' + query, true).query.key),
    // with the first value taken where Node returns an array. null: Node finds no (or an empty) key.
    [Theory]
    [InlineData("key=%F0%9F%98%80", "\U0001F600")]
    [InlineData("key=a+b+", "a b ")]
    [InlineData("key=+", " ")]
    [InlineData("key=%", "%")]
    [InlineData("key=%%41", "%A")]
    [InlineData("key=%4%41", "%4A")]
    [InlineData("key=%4+1", "%4 1")]
    [InlineData("key=%41%zz%42", "A%zzB")]
    [InlineData("key=%C3%A9%", "\u00E9%")]
    [InlineData("key=a%2Bb+c%20d", "a+b c d")]
    [InlineData("key=%3D%26", "=&")]
    [InlineData("key=%61%62%63", "abc")]
    [InlineData("key=%F0%9F%98", "\uFFFD")]
    [InlineData("key=%F0%9F%98%80%80", "\U0001F600\uFFFD")]
    [InlineData("key=%E2%9C", "\uFFFD")]
    [InlineData("key=%E2%9C%93%E2%9C", "\u2713\uFFFD")]
    [InlineData("key=%80", "\uFFFD")]
    [InlineData("key=%80%80", "\uFFFD\uFFFD")]
    [InlineData("key=%C0%80", "\uFFFD\uFFFD")] // overlong NUL
    [InlineData("key=%E0%80%80", "\uFFFD\uFFFD\uFFFD")] // overlong 3-byte
    [InlineData("key=%F8%88%80%80%80", "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD")] // old 5-byte form
    [InlineData("key=%ED%A0%80", "\uFFFD\uFFFD\uFFFD")] // high surrogate encoded in UTF-8
    [InlineData("key=%ED%B0%80", "\uFFFD\uFFFD\uFFFD")] // low surrogate encoded in UTF-8
    [InlineData("key=%ED%A0%BD%ED%B8%80", "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD")] // CESU-8 pair for U+1F600
    [InlineData("key=%ED%9F%BF", "\uD7FF")]
    [InlineData("key=%EE%80%80", "\uE000")]
    [InlineData("key=%EF%BB%BF", "\uFEFF")]
    [InlineData("key=%F4%8F%BF%BF", "\U0010FFFF")]
    [InlineData("key=%E2%80%A8", "\u2028")]
    [InlineData("key=%C2%80", "\u0080")]
    [InlineData("k%65y=x", "x")]
    [InlineData("%6B%65%79=y", "y")]
    [InlineData("%6b%65%79=y", "y")]
    [InlineData("ke%79=z&key=w", "z")]
    [InlineData("k+ey=x", null)]
    [InlineData("key+=x", null)]
    [InlineData("key%20=x", null)]
    [InlineData("%20key=x", null)]
    [InlineData("k%2565y=x", null)]
    [InlineData("KEY=x", null)]
    [InlineData("=&key=c", "c")]
    [InlineData("key==x", "=x")]
    [InlineData("&key=x", "x")]
    [InlineData("key=x&", "x")]
    [InlineData("a=1&&key=x", "x")]
    [InlineData("key&key=b", null)]
    [InlineData("", null)]
    [InlineData("&", null)]
    [InlineData("%6B%65%79", null)]
    [InlineData("%6B%65%79=", null)]
    [InlineData("k%65y", null)]
    public void Decodes_as_node_querystring_does(string query, string? expected)
    {
        (KeyStatus status, string? key) = Decode(Encoding.ASCII.GetBytes(query));

        Assert.Equal(expected is null ? KeyStatus.None : KeyStatus.Found, status);
        Assert.Equal(expected is null ? null : CodePoints(expected), key is null ? null : CodePoints(key));
    }

    // Bytes >= 0x80 sent unescaped are taken as bytes, exactly like their %XX forms.
    [Theory]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x98, 0x80 }, "\U0001F600")]
    [InlineData(new byte[] { (byte)'c', (byte)'a', (byte)'f', 0xC3, 0xA9 }, "caf\u00E9")]
    [InlineData(new byte[] { 0xFF }, "\uFFFD")]
    [InlineData(new byte[] { 0xC3 }, "\uFFFD")]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "\uFFFD\uFFFD\uFFFD")]
    [InlineData(new byte[] { 0xC3, (byte)'%', (byte)'A', (byte)'9' }, "\u00E9")]
    [InlineData(new byte[] { (byte)'%', (byte)'C', (byte)'3', 0xA9 }, "\u00E9")]
    public void Unescaped_high_bytes_are_bytes(byte[] value, string expected)
    {
        (KeyStatus status, string? key) = Decode([.. "key="u8, .. value]);

        Assert.Equal(KeyStatus.Found, status);
        Assert.Equal(CodePoints(expected), CodePoints(key!));
    }

    [Fact]
    public void Every_byte_value_as_the_key_decodes_like_node()
    {
        for (int b = 0; b < 256; b++)
        {
            (KeyStatus rawStatus, string? raw) = Decode([.. "key="u8, (byte)b]);
            (KeyStatus escapedStatus, string? escaped) = Decode(Encoding.ASCII.GetBytes($"key=%{b:X2}"));

            // Escaped, every byte is data: ASCII stays itself, a lone byte >= 0x80 is invalid UTF-8.
            string expected = b < 0x80 ? ((char)b).ToString() : "\uFFFD";
            Assert.Equal(KeyStatus.Found, escapedStatus);
            Assert.Equal(expected, escaped);

            if (b == '&')
            {
                Assert.Equal(KeyStatus.None, rawStatus); // `key=&` has an empty value
                continue;
            }

            Assert.Equal(KeyStatus.Found, rawStatus);
            Assert.Equal(b == '+' ? " " : expected, raw);
        }
    }

    [Theory]
    [InlineData("abcdefg", true)] // limit - 1
    [InlineData("abcdefgh", true)] // limit
    [InlineData("abcdefghi", false)] // limit + 1
    [InlineData("%61%62%63%64%65%66%67%68", true)]
    [InlineData("%61%62%63%64%65%66%67%68%69", false)]
    [InlineData("abcdef+", true)]
    [InlineData("abcdefg+", true)]
    [InlineData("abcdefgh+", false)]
    [InlineData("abcdefg%", true)]
    [InlineData("abcdefgh%", false)]
    [InlineData("abcde%E2%9C%93", true)] // 5 + 3 = 8
    [InlineData("abcdef%E2%9C%93", false)] // the multi-byte character crosses the limit
    [InlineData("abcd%FF", true)] // 4 + U+FFFD (3) = 7
    [InlineData("abcde%FF", true)] // 5 + 3 = 8
    [InlineData("abcdef%FF", false)] // 7 bytes fit, the U+FFFD expansion to 9 does not
    [InlineData("abcdefg%FF", false)]
    [InlineData("%FF%FF", true)] // 2 bytes expand to 6
    [InlineData("%FF%FF%FF", false)] // 3 bytes expand to 9
    [InlineData("ab%ED%A0", true)] // 2 + two U+FFFD (6) = 8
    [InlineData("abc%ED%A0", false)] // 5 bytes fit, 3 + 6 = 9 does not
    [InlineData("%ED%A0%80", false)] // 3 bytes expand to 9
    public void Too_long_is_judged_on_the_decoded_utf8_length(string value, bool fits)
    {
        const int Limit = 8;
        byte[] query = Encoding.ASCII.GetBytes("key=" + value);

        Span<byte> destination = new byte[Limit];
        KeyStatus status = KeyDecoder.Decode(query, destination, out int written);

        // A reference length: the decoded key as Node would send it, in UTF-8.
        (KeyStatus unlimited, string? key) = Decode(query, DefaultLimit);
        Assert.Equal(KeyStatus.Found, unlimited);
        int utf8Length = Encoding.UTF8.GetByteCount(key!);

        Assert.Equal(utf8Length <= Limit ? KeyStatus.Found : KeyStatus.TooLong, status);
        Assert.Equal(fits ? KeyStatus.Found : KeyStatus.TooLong, status);
        Assert.Equal(status == KeyStatus.Found ? utf8Length : 0, written);
    }

    [Fact]
    public void Empty_destination_refuses_any_key()
    {
        Assert.Equal(KeyStatus.TooLong, KeyDecoder.Decode("key=a"u8, [], out int written));
        Assert.Equal(0, written);
        Assert.Equal(KeyStatus.None, KeyDecoder.Decode("key="u8, [], out written));
        Assert.Equal(0, written);
    }

    [Fact]
    public void Written_is_zero_when_no_key()
    {
        Span<byte> destination = stackalloc byte[16];

        Assert.Equal(KeyStatus.None, KeyDecoder.Decode("foo=bar"u8, destination, out int written));
        Assert.Equal(0, written);
    }

    // Node's querystring.parse reads at most 1000 '&'-separated pieces (maxKeys), empty pieces included.
    [Theory]
    [InlineData("a&", 999, true)]
    [InlineData("a&", 1000, false)]
    [InlineData("&", 999, true)]
    [InlineData("&", 1000, false)]
    [InlineData("x=1&", 999, true)]
    [InlineData("x=1&", 1500, false)]
    public void Only_the_first_thousand_pairs_are_read(string filler, int count, bool seen)
    {
        string prefix = string.Concat(Enumerable.Repeat(filler, count));
        KeyStatus expected = seen ? KeyStatus.Found : KeyStatus.None;

        (KeyStatus status, string? key) = Decode(Encoding.ASCII.GetBytes(prefix + "key=x"));
        (KeyStatus followed, _) = Decode(Encoding.ASCII.GetBytes(prefix + "key=x&b=2"));

        Assert.Equal(expected, status);
        Assert.Equal(expected, followed);
        Assert.Equal(expected == KeyStatus.Found ? "x" : null, key);
    }

    [Fact]
    public void Spelled_out_key_name_is_the_first_key()
    {
        Assert.Equal((KeyStatus.Found, "first"), Decode("k%65y=first&key=second"u8.ToArray()));
        Assert.Equal((KeyStatus.None, null), Decode("k%65y=&key=second"u8.ToArray()));
    }

    [Fact]
    public void Matches_a_reference_decoder_on_random_queries()
    {
        string[] tokens =
        [
            "k", "e", "y", "=", "&", "+", "%", "a", "key=", "&key=", "k%65y=", "%6B", "%65", "%79", "%6b", "%zz", "%4",
            "%%", "%F0", "%9F", "%98", "%80", "%C3", "%A9", "%E2", "%9C", "%93", "%ED", "%A0", "%FF", "%41", "\u00FF",
            "\u00C3", "\u00A9",
        ];
        int[] limits = [0, 1, 2, 3, 4, 6, 8, 16, 64];
        var random = new Random(20240601);
        var query = new List<byte>();
        for (int iteration = 0; iteration < 20000; iteration++)
        {
            query.Clear();
            int count = random.Next(0, 24);
            for (int i = 0; i < count; i++)
            {
                // Latin-1 so that "\u00FF" stands for the raw byte 0xFF.
                query.AddRange(Encoding.Latin1.GetBytes(tokens[random.Next(tokens.Length)]));
            }

            int limit = limits[random.Next(limits.Length)];
            byte[] bytes = [.. query];
            (KeyStatus expectedStatus, byte[]? expectedKey) = ReferenceDecode(bytes, limit);

            var destination = new byte[limit];
            KeyStatus status = KeyDecoder.Decode(bytes, destination, out int written);

            string context = Encoding.Latin1.GetString(bytes) + " limit " + limit;
            Assert.True(expectedStatus == status, $"{context}: expected {expectedStatus}, got {status}");
            Assert.True(
                (expectedKey ?? []).AsSpan().SequenceEqual(destination.AsSpan(0, written)),
                $"{context}: expected {Convert.ToHexString(expectedKey ?? [])}, got {Convert.ToHexString(destination, 0, written)}");
        }
    }

    [Fact]
    public void Fuzzed_vector_queries_decode_as_the_reference_does()
    {
        // Mutation fuzzing from the real vectors, against the plain reference decoder: seeded and about two seconds
        // in the normal run; PIXELPING_FUZZ_SECONDS makes it longer (see Support/Fuzz).
        int seed = Fuzz.Seed(20240612);
        _output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        byte[][] seeds = [.. KeyVectors.All.Select(v => Encoding.UTF8.GetBytes(v.Query)), "a=1&key=x&key=y"u8.ToArray()];
        byte[][] splices =
        [
            .. new[] { "key=", "&key=", "k%65y=", "%", "%%", "+", "&", "=", "%C3%A9", "%F0%9F%98%80", "%ED%A0%80", "%C3", "%zz", "%4" }
                .Select(Encoding.ASCII.GetBytes),
        ];
        byte[] interesting = [.. "%+&=key0123456789ABCDEFabcdef"u8, 0x80, 0xC3, 0xFF, 0x00];
        int[] limits = [0, 1, 3, 8, 64, DefaultLimit];
        var statuses = new HashSet<KeyStatus>();
        var clock = Stopwatch.StartNew();
        TimeSpan budget = Fuzz.Budget(TimeSpan.FromSeconds(2));
        long iterations = 0;
        while ((Fuzz.Long || iterations < 200_000) && clock.Elapsed < budget)
        {
            iterations++;
            byte[] query = Fuzz.Mutate(random, seeds[random.Next(seeds.Length)], interesting, splices);
            int limit = limits[random.Next(limits.Length)];
            (KeyStatus expectedStatus, byte[]? expectedKey) = ReferenceDecode(query, limit);
            var destination = new byte[limit];
            KeyStatus status = KeyDecoder.Decode(query, destination, out int written);
            statuses.Add(status);
            if (status != expectedStatus || !(expectedKey ?? []).AsSpan().SequenceEqual(destination.AsSpan(0, written)))
            {
                Assert.Fail($"seed {seed}, query {Convert.ToHexString(query)}, limit {limit}: expected {expectedStatus} " +
                    $"{Convert.ToHexString(expectedKey ?? [])}, got {status} {Convert.ToHexString(destination, 0, written)}");
            }
        }

        _output.WriteLine($"{iterations} queries");
        Assert.Equal([KeyStatus.None, KeyStatus.Found, KeyStatus.TooLong], statuses.Order());
    }

    [Fact]
    public void Decoding_a_valid_key_allocates_nothing()
    {
        byte[][] queries =
        [
            "x=1&key=document%3A42%3Ahttp%3A%2F%2Fexample.com%2Fa%3Fb%3Dc&y=2"u8.ToArray(),
            "utm=a+b&k%65y=caf%C3%A9+au+lait"u8.ToArray(),
            "key=%F0%9F%98%80%zz%"u8.ToArray(),
            "foo=bar"u8.ToArray(),
        ];
        var destination = new byte[DefaultLimit];
        int total = 0;
        foreach (byte[] query in queries)
        {
            KeyDecoder.Decode(query, destination, out int written); // warm-up
            total += written;
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            foreach (byte[] query in queries)
            {
                KeyDecoder.Decode(query, destination, out int written);
                total += written;
            }
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(total > 0);
    }

    private static (KeyStatus Status, string? Key) Decode(byte[] query, int limit = DefaultLimit)
    {
        var destination = new byte[limit];
        KeyStatus status = KeyDecoder.Decode(query, destination, out int written);
        if (status != KeyStatus.Found)
        {
            Assert.Equal(0, written);
            return (status, null);
        }

        // Throws unless the output is valid UTF-8.
        return (status, s_strictUtf8.GetString(destination, 0, written));
    }

    private static string CodePoints(string text) =>
        string.Join(' ', text.EnumerateRunes().Select(r => r.Value.ToString("X4", System.Globalization.CultureInfo.InvariantCulture)));

    // A deliberately plain transcription of Node 20's querystring.parse + unescapeBuffer + Buffer.toString('utf8'),
    // written without spans or the decoder's shortcuts.
    private static (KeyStatus Status, byte[]? Key) ReferenceDecode(byte[] query, int limit)
    {
        var pieces = new List<List<byte>> { new() };
        foreach (byte b in query)
        {
            if (b == '&')
            {
                pieces.Add([]);
            }
            else
            {
                pieces[^1].Add(b);
            }
        }

        foreach (List<byte> piece in pieces.Take(1000))
        {
            int equals = piece.IndexOf((byte)'=');
            List<byte> name = equals < 0 ? piece : piece.GetRange(0, equals);
            List<byte> value = equals < 0 ? [] : piece.GetRange(equals + 1, piece.Count - equals - 1);
            if (Encoding.UTF8.GetString(ReferenceUnescape(name)) != "key")
            {
                continue;
            }

            if (value.Count == 0)
            {
                return (KeyStatus.None, null);
            }

            byte[] key = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(ReferenceUnescape(value)));
            return key.Length <= limit ? (KeyStatus.Found, key) : (KeyStatus.TooLong, null);
        }

        return (KeyStatus.None, null);
    }

    private static byte[] ReferenceUnescape(List<byte> s)
    {
        var output = new List<byte>();
        int index = 0;
        while (index < s.Count)
        {
            int current = s[index];
            if (current == '+')
            {
                output.Add((byte)' ');
                index++;
                continue;
            }

            if (current == '%' && index < s.Count - 2)
            {
                int high = Convert.ToInt32(Uri.IsHexDigit((char)s[index + 1]));
                int low = Convert.ToInt32(Uri.IsHexDigit((char)s[index + 2]));
                if (high + low == 2)
                {
                    output.Add(Convert.ToByte(Encoding.ASCII.GetString([s[index + 1], s[index + 2]]), 16));
                    index += 3;
                    continue;
                }
            }

            output.Add((byte)current);
            index++;
        }

        return [.. output];
    }
}
