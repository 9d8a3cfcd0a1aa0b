using System.Text;
using PixelPing.Config;

namespace PixelPing.Tests.Config;

public sealed class SettingsReaderTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("pixel-ping-config-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static (bool Ok, Settings Settings, string Error, List<string> Warnings) Parse(string json) =>
        Parse(Encoding.UTF8.GetBytes(json));

    private static (bool Ok, Settings Settings, string Error, List<string> Warnings) Parse(byte[] utf8)
    {
        var warnings = new List<string>();
        bool ok = SettingsReader.TryParse(utf8, "config.json", out Settings settings, out string error, warnings);
        return (ok, settings, error, warnings);
    }

    private static Settings ParseOk(string json)
    {
        var result = Parse(json);
        Assert.True(result.Ok, result.Error);
        Assert.Equal("", result.Error);
        return result.Settings;
    }

    private static string ParseError(string json)
    {
        var result = Parse(json);
        Assert.False(result.Ok);
        AssertOneLine(result.Error);
        return result.Error;
    }

    private static void AssertOneLine(string error)
    {
        Assert.StartsWith("config.json: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
        Assert.DoesNotContain('\r', error);
    }

    [Fact]
    public void Empty_object_gives_the_defaults()
    {
        var result = Parse("{}");

        Assert.True(result.Ok);
        Assert.Empty(result.Warnings);
        Settings s = result.Settings;
        Assert.Equal("config.json", s.ConfigPath);
        Assert.Equal(9187, s.Port);
        Assert.Null(s.Host);
        Assert.Equal(TimeSpan.FromSeconds(60), s.Interval);
        Assert.Null(s.Endpoint);
        Assert.Null(s.Secret);
        Assert.False(s.Discard);
        Assert.Null(s.SslKey);
        Assert.Null(s.SslCert);
        Assert.Null(s.SslCa);
        Assert.False(s.Tls);
        Assert.Equal(TimeSpan.FromSeconds(10), s.Timeout);
        Assert.Equal(100000, s.MaxKeys);
        Assert.Equal(1024, s.MaxKeyLength);
        Assert.Equal(10000, s.MaxConnections);
        Assert.Null(s.Spool);
        Assert.Null(s.EndpointCa);
        Assert.True(s.Log);
        Assert.Equal(8192, s.MaxRequestLine);
        Assert.Equal(16384, s.MaxHeaderBytes);
        Assert.Equal(100, s.MaxHeaderCount);
        Assert.Equal(65536, s.MaxBodyBytes);
        Assert.Equal(TimeSpan.FromSeconds(10), s.HeaderTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), s.IdleTimeout);
        Assert.Equal(TimeSpan.FromSeconds(5), s.ShutdownTimeout);
    }

    private const string EveryKey = """
        {
          "port": 8080,
          "host": "127.0.0.1",
          "interval": 2.5,
          "endpoint": "https://example.org/hits?site=1",
          "secret": "s3cret",
          "discard": true,
          "sslkey": "key.pem",
          "sslcert": "certs/cert.pem",
          "sslca": "/etc/ssl/chain.pem",
          "timeout": 3,
          "maxkeys": 50,
          "maxkeylength": 64,
          "maxconnections": 7,
          "spool": "/var/lib/pixel-ping/spool.json",
          "endpointca": "ca.pem",
          "schema": "stats",
          "prefix": "pp_",
          "ledgerdays": 7,
          "log": false,
          "maxrequestline": 1000,
          "maxheaderbytes": 2000,
          "maxheadercount": 20,
          "maxbodybytes": 0,
          "headertimeout": 1.5,
          "idletimeout": 12,
          "shutdowntimeout": 0.25,
          "status": "[::1]:9188",
          "shutdowndelay": 7,
          "logformat": "json",
          "ignorebots": true,
          "ignoreprefetch": true,
          "referrers": ["example.org", "*.example.com"],
          "requirereferrer": true,
          "keys": ["story:*"],
          "ignoreaddresses": ["192.0.2.0/24", "2001:db8::/32"],
          "trustedproxies": ["10.0.0.1"],
          "maxhitsperclient": 5
        }
        """;

    [Fact]
    public void Every_key_is_read()
    {
        var result = Parse(EveryKey);

        Assert.True(result.Ok, result.Error);
        Settings s = result.Settings;
        Assert.Equal(8080, s.Port);
        Assert.Equal("127.0.0.1", s.Host);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), s.Interval);
        Assert.Equal(new Uri("https://example.org/hits?site=1"), s.Endpoint?.Uri);
        Assert.Equal("s3cret", s.Secret);
        Assert.True(s.Discard);
        Assert.Equal("key.pem", s.SslKey);
        Assert.Equal("certs/cert.pem", s.SslCert);
        Assert.Equal("/etc/ssl/chain.pem", s.SslCa);
        Assert.True(s.Tls);
        Assert.Equal(TimeSpan.FromSeconds(3), s.Timeout);
        Assert.Equal(50, s.MaxKeys);
        Assert.Equal(64, s.MaxKeyLength);
        Assert.Equal(7, s.MaxConnections);
        Assert.False(s.Log);
        Assert.Equal(1000, s.MaxRequestLine);
        Assert.Equal(2000, s.MaxHeaderBytes);
        Assert.Equal(20, s.MaxHeaderCount);
        Assert.Equal(0, s.MaxBodyBytes);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), s.HeaderTimeout);
        Assert.Equal(TimeSpan.FromSeconds(12), s.IdleTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(250), s.ShutdownTimeout);

        Assert.Equal("/var/lib/pixel-ping/spool.json", s.Spool);
        Assert.Equal("ca.pem", s.EndpointCa);
        Assert.Equal(System.Net.IPEndPoint.Parse("[::1]:9188"), s.Status);
        Assert.Equal(TimeSpan.FromSeconds(7), s.ShutdownDelay);
        Assert.True(s.JsonLog);
        Assert.True(s.IgnoreBots);
        Assert.True(s.IgnorePrefetch);
        Assert.Equal(["example.org", "*.example.com"], s.Referrers);
        Assert.True(s.RequireReferrer);
        Assert.Equal(["story:*"], s.Keys);
        Assert.Equal(["192.0.2.0/24", "2001:db8::/32"], s.IgnoreAddresses);
        Assert.Equal(["10.0.0.1"], s.TrustedProxies);
        Assert.Equal(5, s.MaxHitsPerClient);
        // The database keys are read, and dropped with an HTTP endpoint (DatabaseKeys tests them with a database).
        Assert.Equal(
        [
            "config.json: \"schema\" is ignored without a postgresql:// \"endpoint\"",
            "config.json: \"prefix\" is ignored without a postgresql:// or redis:// \"endpoint\"",
            "config.json: \"ledgerdays\" is ignored without a postgresql:// or redis:// \"endpoint\"",
        ], result.Warnings);
        Assert.Equal("public", s.Schema);
        Assert.Null(s.Prefix);
        Assert.Equal(35, s.LedgerDays);
    }

    [Fact]
    public void Database_keys_are_read_with_a_database_endpoint()
    {
        var result = Parse("""
            {"endpoint": "postgresql://pixel:pw@127.0.0.1:5432/stats?sslmode=disable", "schema": "Counts", "prefix": "", "ledgerdays": 3650}
            """);

        Assert.True(result.Ok, result.Error);
        Assert.Empty(result.Warnings);
        EndpointAddress endpoint = Assert.IsType<EndpointAddress>(result.Settings.Endpoint);
        Assert.Equal(EndpointKind.Postgres, endpoint.Kind);
        Assert.Equal("pixel", endpoint.Postgres!.User);
        Assert.Equal("pw", endpoint.Postgres.Password);
        Assert.Equal("stats", endpoint.Postgres.Database);
        Assert.Equal("postgresql://pixel:…@127.0.0.1:5432/stats?sslmode=disable", endpoint.ToString());
        Assert.Equal("Counts", result.Settings.Schema);
        Assert.Equal("", result.Settings.Prefix);
        Assert.Equal(3650, result.Settings.LedgerDays);
        Assert.Contains("endpoint:       postgresql://pixel:…@127.0.0.1:5432/stats?sslmode=disable (from config.json)", result.Settings.Describe(), StringComparison.Ordinal);
        Assert.Contains("prefix:         \"\" (from config.json)", result.Settings.Describe(), StringComparison.Ordinal);

        var redis = Parse("""{"endpoint": "rediss://:pw@cache.example.org:6380/2", "ledgerdays": 1}""");
        Assert.True(redis.Ok, redis.Error);
        Assert.Equal(EndpointKind.Redis, redis.Settings.Endpoint!.Kind);
        Assert.Equal("rediss://…@cache.example.org:6380/2", redis.Settings.Endpoint.Shown);
        Assert.Equal(1, redis.Settings.LedgerDays);
        Assert.Empty(redis.Warnings);
    }

    [Fact]
    public void Secret_and_endpointca_are_dropped_with_a_warning_where_a_database_does_not_use_them()
    {
        var result = Parse("""{"endpoint": "postgresql://pixel@127.0.0.1/stats?sslmode=disable", "secret": "s", "endpointca": "ca.pem", "schema": "s"}""");

        Assert.True(result.Ok, result.Error);
        Assert.Null(result.Settings.Secret);
        Assert.Null(result.Settings.EndpointCa);
        Assert.Equal(
        [
            "config.json: \"secret\" is ignored with a database \"endpoint\": nothing is signed (the database's own password and TLS protect the counts)",
            "config.json: \"endpointca\" is ignored with a PostgreSQL \"endpoint\": name the CA file in the URI (sslrootcert=/path/ca.pem)",
        ], result.Warnings);

        var redis = Parse("""{"endpoint": "rediss://cache.example.org", "endpointca": "ca.pem", "schema": "s"}""");
        Assert.True(redis.Ok, redis.Error);
        Assert.Equal("ca.pem", redis.Settings.EndpointCa);
        Assert.Equal(["config.json: \"schema\" is ignored without a postgresql:// \"endpoint\""], redis.Warnings);
    }

    [Theory]
    [InlineData("""{"endpoint": "postgresql://u@h/db?sslmode=disable", "schema": ""}""", """config.json: "schema": the schema is empty""")]
    [InlineData("""{"endpoint": "postgresql://u@h/db?sslmode=disable", "prefix": "a\u0001"}""", """config.json: "prefix": the table prefix "a\u0001" has a control character""")]
    [InlineData("""{"endpoint": "postgresql://u:hunter2@h/db?sslmode=sometimes"}""",
        """config.json: "endpoint" is not a usable PostgreSQL URI ("postgresql://u:…@h/db?sslmode=sometimes"): sslmode "sometimes" is not one of disable, prefer, require, verify-ca, verify-full""")]
    [InlineData("""{"endpoint": "postgresql://u@h/db?sslmode=disable&frobnicate=1"}""",
        """config.json: "endpoint" is not a usable PostgreSQL URI ("postgresql://u@h/db?sslmode=disable&frobnicate=1"): "frobnicate" is not a PostgreSQL connection parameter""")]
    public void Bad_database_settings_stop_the_start_with_one_line(string json, string expected)
    {
        var result = Parse(json);

        Assert.False(result.Ok);
        Assert.Equal(expected, result.Error);
        Assert.DoesNotContain("hunter2", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_postgres_uri_parameter_that_is_not_implemented_is_a_warning()
    {
        var result = Parse("""{"endpoint": "postgresql://u@db.example.org/db?sslmode=verify-full&keepalives=1"}""");

        Assert.True(result.Ok, result.Error);
        Assert.Equal(["config.json: \"endpoint\" is read with a warning: the connection parameter keepalives is not supported by pixel-ping and is ignored"], result.Warnings);
    }

    [Fact]
    public void Every_known_key_is_in_the_every_key_test()
    {
        // A key added to the reader without a test here makes this fail.
        foreach (ConfigKey key in ConfigKeys.All)
        {
            Assert.Contains($"\"{key.Name}\":", EveryKey, StringComparison.Ordinal);
        }
    }

    public static TheoryData<string, string> BadValues => new()
    {
        { """{"port": "abc"}""", "port" },
        { """{"port": "80abc"}""", "port" },
        { """{"port": ""}""", "port" },
        { """{"port": " 80"}""", "port" },
        { """{"port": "-1"}""", "port" },
        { """{"port": "65536"}""", "port" },
        { """{"port": "0x50"}""", "port" },
        { """{"port": 65536}""", "port" },
        { """{"port": -1}""", "port" },
        { """{"port": 80.5}""", "port" },
        { """{"port": 1e400}""", "port" },
        { """{"port": true}""", "port" },
        { """{"port": [80]}""", "port" },
        { """{"port": {"n": 80}}""", "port" },
        { """{"host": ""}""", "host" },
        { """{"host": " "}""", "host" },
        { """{"host": "local host"}""", "host" },
        { """{"host": 127}""", "host" },
        { """{"host": false}""", "host" },
        { """{"interval": 0}""", "interval" },
        { """{"interval": -1}""", "interval" },
        { """{"interval": 0.0001}""", "interval" },
        { """{"interval": 86401}""", "interval" },
        { """{"interval": 1e400}""", "interval" },
        { """{"interval": "60"}""", "interval" },
        { """{"interval": true}""", "interval" },
        { """{"endpoint": "ftp://example.org/hits"}""", "endpoint" },
        { """{"endpoint": "/hits"}""", "endpoint" },
        { """{"endpoint": "hits"}""", "endpoint" },
        { """{"endpoint": "example.org/hits"}""", "endpoint" },
        { """{"endpoint": "http://"}""", "endpoint" },
        { """{"endpoint": "file:///etc/passwd"}""", "endpoint" },
        { """{"endpoint": "not a url at all"}""", "endpoint" },
        { """{"endpoint": "https://user:pw@example.org/"}""", "endpoint" },
        { """{"endpoint": 42}""", "endpoint" },
        { """{"endpoint": ["http://a/"]}""", "endpoint" },
        { """{"secret": 5}""", "secret" },
        { """{"secret": true}""", "secret" },
        { """{"secret": {}}""", "secret" },
        { """{"discard": "true"}""", "discard" },
        { """{"discard": 1}""", "discard" },
        { """{"log": 0}""", "log" },
        { """{"log": "no"}""", "log" },
        { """{"sslkey": ""}""", "sslkey" },
        { """{"sslkey": 5}""", "sslkey" },
        { """{"sslcert": ""}""", "sslcert" },
        { """{"sslca": 7}""", "sslca" },
        { """{"sslkey": "key.pem"}""", "sslcert" },
        { """{"sslcert": "cert.pem"}""", "sslkey" },
        { """{"timeout": 0}""", "timeout" },
        { """{"timeout": 3601}""", "timeout" },
        { """{"timeout": "10"}""", "timeout" },
        { """{"maxkeys": 0}""", "maxkeys" },
        { """{"maxkeys": 1.5}""", "maxkeys" },
        { """{"maxkeys": "100"}""", "maxkeys" },
        { """{"maxkeys": 2147483648}""", "maxkeys" },
        { """{"maxkeylength": 0}""", "maxkeylength" },
        { """{"maxkeylength": 65537}""", "maxkeylength" },
        { """{"maxconnections": 0}""", "maxconnections" },
        { """{"maxconnections": null, "maxconnections": -3}""", "maxconnections" },
        { """{"maxrequestline": 63}""", "maxrequestline" },
        { """{"maxrequestline": 1048577}""", "maxrequestline" },
        { """{"maxheaderbytes": 255}""", "maxheaderbytes" },
        { """{"maxheadercount": 0}""", "maxheadercount" },
        { """{"maxbodybytes": -1}""", "maxbodybytes" },
        { """{"headertimeout": 0}""", "headertimeout" },
        { """{"idletimeout": 86401}""", "idletimeout" },
        { """{"shutdowntimeout": -5}""", "shutdowntimeout" },
        { """{"spool": 5}""", "spool" },
        { """{"endpointca": ""}""", "endpointca" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Bad_value_is_one_line_naming_the_key(string json, string key)
    {
        string error = ParseError(json);

        Assert.Contains($"\"{key}\"", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"port": "abc"}""", """config.json: "port" must be a number or numeric string from 0 to 65535 (got "abc")""")]
    [InlineData("""{"port": 80.5}""", """config.json: "port" must be a number or numeric string from 0 to 65535 (got 80.5)""")]
    [InlineData("""{"interval": "60"}""", """config.json: "interval" must be a number of seconds from 0.001 to 86400 (got "60")""")]
    [InlineData("""{"discard": "yes"}""", """config.json: "discard" must be true or false (got "yes")""")]
    [InlineData("""{"maxkeys": [1]}""", """config.json: "maxkeys" must be an integer from 1 to 2147483647 (got an array)""")]
    [InlineData("""{"secret": {}}""", """config.json: "secret" must be a string (got an object)""")]
    [InlineData("""{"endpoint": "ftp://x/"}""", """config.json: "endpoint" must be an http://, https://, postgresql://, postgres://, redis:// or rediss:// URL with a host (got "ftp://x/")""")]
    [InlineData("""{"host": "a\nb"}""", """config.json: "host" must be a non-empty address or host name (got "a\nb")""")]
    [InlineData("""{"sslkey": "k.pem"}""", """config.json: "sslkey" and "sslcert" must be set together (only "sslkey" is set)""")]
    public void Bad_value_exact_message(string json, string expected)
    {
        Assert.Equal(expected, ParseError(json));
    }

    [Fact]
    public void Bad_value_long_value_is_cut_in_the_message()
    {
        string error = ParseError($$"""{"host": "{{new string('a', 500)}} x"}""");

        Assert.Contains("\"host\"", error, StringComparison.Ordinal);
        Assert.Contains("...\")", error, StringComparison.Ordinal);
        Assert.True(error.Length < 200, error);
    }

    // RFC 1035 §2.3.4: at most 63 characters a label, 253 a name (a final dot aside).
    private static readonly string s_name253 = string.Join('.', Enumerable.Repeat(new string('a', 63), 3)) + "." + new string('b', 61);
    private static readonly string s_name304 = string.Join('.', Enumerable.Repeat(new string('a', 60), 5));

    [Fact]
    public void Endpoint_host_names_no_resolver_can_look_up_are_refused_one_line_each()
    {
        Assert.Equal(253, s_name253.Length);
        Assert.Equal(
            """config.json: "endpoint" must have a host name of at most 253 characters (got one of 304)""",
            ParseError($$"""{"endpoint": "http://{{s_name304}}/hits"}"""));
        Assert.Equal(
            """config.json: "endpoint" must have a host name of at most 253 characters (got one of 254)""",
            ParseError($$"""{"endpoint": "https://{{s_name253}}c:8443/hits"}"""));
        Assert.Equal(
            $$"""config.json: "endpoint" must have host name labels of at most 63 characters (got one of 64: "{{new string('b', 60)}}...")""",
            ParseError($$"""{"endpoint": "http://a.{{new string('b', 64)}}.example/hits"}"""));
        Assert.Equal(
            """config.json: "endpoint" must have a host name without empty labels (got "receiver..example")""",
            ParseError("""{"endpoint": "http://receiver..example/hits"}"""));
        Assert.Equal(
            """config.json: "endpoint" must have a host name without empty labels (got ".receiver")""",
            ParseError("""{"endpoint": "http://user:pw@.receiver:80/hits"}"""));
    }

    [Theory]
    [InlineData("http://pixel_receiver:8080/hits")]
    [InlineData("http://receiver.example./hits")]
    [InlineData("http://[2001:db8::1]/hits")]
    public void Endpoint_host_names_at_the_limits_or_with_underscores_are_taken(string url)
    {
        Assert.NotNull(ParseOk($$"""{"endpoint": "{{url}}"}""").Endpoint);
    }

    [Fact]
    public void Endpoint_host_names_of_exactly_253_characters_and_labels_of_63_are_taken()
    {
        Assert.Equal(s_name253, ParseOk($$"""{"endpoint": "http://{{s_name253}}/hits"}""").Endpoint!.Uri!.Host);
        Assert.Equal(s_name253 + ".", ParseOk($$"""{"endpoint": "http://{{s_name253}}./hits"}""").Endpoint!.Uri!.Host);
    }

    [Fact]
    public void Endpoint_password_is_not_echoed()
    {
        string error = ParseError("""{"endpoint": "https://user:hunter2@example.org/"}""");

        Assert.DoesNotContain("hunter2", error, StringComparison.Ordinal);
    }

    public static TheoryData<byte[], string> BadFiles => new()
    {
        { Encoding.UTF8.GetBytes(""), "config.json: the file is empty" },
        { Encoding.UTF8.GetBytes(" \r\n\t "), "config.json: the file is empty" },
        { [0xEF, 0xBB, 0xBF], "config.json: the file is empty" },
        { Encoding.UTF8.GetBytes("[]"), "config.json: the top level must be a JSON object {...} (got an array)" },
        { Encoding.UTF8.GetBytes("42"), "config.json: the top level must be a JSON object {...} (got 42)" },
        { Encoding.UTF8.GetBytes("\"x\""), "config.json: the top level must be a JSON object {...} (got \"x\")" },
        { Encoding.UTF8.GetBytes("null"), "config.json: the top level must be a JSON object {...} (got null)" },
        { Encoding.UTF8.GetBytes("{"), "config.json: invalid JSON at line 1, byte 2: " },
        { Encoding.UTF8.GetBytes("{\"port\": }"), "config.json: invalid JSON at line 1, byte 10: " },
        { Encoding.UTF8.GetBytes("{\n  \"port\": 1,\n  \"host\" \"x\"\n}"), "config.json: invalid JSON at line 3, byte 10: " },
        { Encoding.UTF8.GetBytes("{} {}"), "config.json: invalid JSON at line 1, byte 4: " },
        { Encoding.UTF8.GetBytes("{'port': 1}"), "config.json: invalid JSON at line 1, byte 2: " },
        { Encoding.UTF8.GetBytes("// only a comment"), "config.json: the file holds only comments; it must hold a JSON object" },
        { Encoding.UTF8.GetBytes("/* a */\n// b\n"), "config.json: the file holds only comments; it must hold a JSON object" },
        { Encoding.UTF8.GetBytes("// a\nx"), "config.json: invalid JSON at line 2, byte 1: " },
        { Encoding.UTF8.GetBytes("{\"port\": 1,\n \"secret\": \"ab\\ud800c\"}"),
            "config.json: invalid JSON at line 2, byte 12: the value of \"secret\": a \\u escape is half of a UTF-16 surrogate pair" },
        { Encoding.UTF8.GetBytes("{\"referrers\": [\"a.org\", \"\\udc00\"]}"),
            "config.json: invalid JSON at line 1, byte 25: the value of \"referrers\": a \\u escape is half" },
        { Encoding.UTF8.GetBytes("{\"\\udc00\": 1}"), "config.json: invalid JSON at line 1, byte 2: a key name: a \\u escape is half" },
        { [(byte)'{', 0xFF, (byte)'}'], "config.json: not UTF-8 text: invalid byte 0xFF at line 1, byte 2" },
        { Encoding.UTF8.GetBytes("{\n\"secret\": \"").Concat(new byte[] { 0xC3, 0x28 }).Concat(Encoding.UTF8.GetBytes("\"}")).ToArray(),
            "config.json: not UTF-8 text: invalid byte 0xC3 at line 2, byte 12" },
        { Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("{}")).ToArray(),
            "config.json: not UTF-8 text: invalid byte 0xFF at line 1, byte 1 (save the file as UTF-8)" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_document_is_one_line(byte[] utf8, string expectedStart)
    {
        var result = Parse(utf8);

        Assert.False(result.Ok);
        AssertOneLine(result.Error);
        Assert.StartsWith(expectedStart, result.Error, StringComparison.Ordinal);
        Assert.Equal(9187, result.Settings.Port);
    }

    [Fact]
    public void Invalid_json_reason_has_no_zero_based_position_suffix()
    {
        string error = ParseError("{\"port\": }");

        Assert.DoesNotContain("LineNumber", error, StringComparison.Ordinal);
        Assert.DoesNotContain("BytePositionInLine", error, StringComparison.Ordinal);
        Assert.Matches(@"byte 10: \S", error);
    }

    [Fact]
    public void Deeply_nested_unknown_value_is_an_error_not_a_crash()
    {
        string json = "{\"x\": " + new string('[', 100) + new string(']', 100) + "}";

        Assert.Contains("invalid JSON", ParseError(json), StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_keys_warn_and_are_skipped()
    {
        var result = Parse("""
            {
              "prot": 80,
              "nested": {"a": [1, {"b": null}], "port": 1},
              "list": [1, 2, 3],
              "port": 81
            }
            """);

        Assert.True(result.Ok, result.Error);
        Assert.Equal(81, result.Settings.Port);
        Assert.Equal(
            [
                "config.json: unknown key \"prot\" ignored",
                "config.json: unknown key \"nested\" ignored",
                "config.json: unknown key \"list\" ignored",
            ],
            result.Warnings);
    }

    [Fact]
    public void Unknown_key_differing_only_in_case_gets_a_hint()
    {
        var result = Parse("""{"Port": 80}""");

        Assert.True(result.Ok);
        Assert.Equal(9187, result.Settings.Port);
        Assert.Equal(["config.json: unknown key \"Port\" ignored (keys are lower-case: did you mean \"port\"?)"], result.Warnings);
    }

    [Fact]
    public void Unknown_key_with_control_characters_warns_on_one_line()
    {
        var result = Parse("{\"a\\nb\\u001b[31m\": 1}");

        Assert.True(result.Ok);
        string warning = Assert.Single(result.Warnings);
        Assert.Equal("config.json: unknown key \"a\\nb\\u001b[31m\" ignored", warning);
    }

    [Fact]
    public void Duplicate_key_last_wins_with_a_warning()
    {
        var result = Parse("""{"port": 1, "interval": 5, "port": 2}""");

        Assert.True(result.Ok);
        Assert.Equal(2, result.Settings.Port);
        Assert.Equal(["config.json: duplicate key \"port\"; the last value is used"], result.Warnings);
    }

    [Fact]
    public void Duplicate_key_later_null_restores_the_default()
    {
        Settings s = ParseOk("""{"port": 1, "port": null, "host": "h", "host": null}""");

        Assert.Equal(9187, s.Port);
        Assert.Null(s.Host);
    }

    [Fact]
    public void Not_supported_yet_with_null_value_does_not_warn()
    {
        var result = Parse("""{"spool": null, "endpointca": null}""");

        Assert.True(result.Ok);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Spool_is_ignored_with_a_warning_without_an_endpoint()
    {
        var result = Parse("""{"spool": "spool.txt"}""");

        Assert.True(result.Ok, result.Error);
        Assert.Null(result.Settings.Spool);
        Assert.Equal(["config.json: \"spool\" is ignored without \"endpoint\""], result.Warnings);
    }

    [Fact]
    public void Spool_with_an_endpoint_is_kept()
    {
        Settings s = ParseOk("""{"spool": "data/spool.txt", "endpoint": "http://127.0.0.1:1/hits"}""");

        Assert.Equal("data/spool.txt", s.Spool);
    }

    [Fact]
    public void Null_means_unset()
    {
        var result = Parse("""
            {"port": null, "host": null, "interval": null, "endpoint": null, "secret": null, "discard": null,
             "sslkey": null, "sslcert": null, "sslca": null, "timeout": null, "maxkeys": null, "log": null,
             "maxbodybytes": null, "idletimeout": null}
            """);

        Assert.True(result.Ok, result.Error);
        Assert.Empty(result.Warnings);
        Settings s = result.Settings;
        Assert.Equal(9187, s.Port);
        Assert.Null(s.Host);
        Assert.Equal(TimeSpan.FromSeconds(60), s.Interval);
        Assert.Null(s.Endpoint);
        Assert.Null(s.Secret);
        Assert.False(s.Discard);
        Assert.False(s.Tls);
        Assert.Equal(100000, s.MaxKeys);
        Assert.True(s.Log);
        Assert.Equal(65536, s.MaxBodyBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), s.IdleTimeout);
    }

    [Theory]
    [InlineData("\"8080\"", 8080)]
    [InlineData("\"0\"", 0)]
    [InlineData("\"65535\"", 65535)]
    [InlineData("\"00080\"", 80)]
    [InlineData("0", 0)]
    [InlineData("65535", 65535)]
    [InlineData("8080.0", 8080)]
    [InlineData("8.08e3", 8080)]
    public void Port_number_or_numeric_string(string value, int expected)
    {
        Assert.Equal(expected, ParseOk($$"""{"port": {{value}}}""").Port);
    }

    [Theory]
    [InlineData("{\"port\": 9187, \"status\": 9187}", "127.0.0.1:9187")]
    [InlineData("{\"host\": \"127.0.0.1\", \"port\": 9187, \"status\": \"127.0.0.1:9187\"}", "127.0.0.1:9187")]
    [InlineData("{\"host\": \"::1\", \"port\": 80, \"status\": \"[::1]:80\"}", "[::1]:80")]
    [InlineData("{\"host\": \"0.0.0.0\", \"port\": 80, \"status\": \"127.0.0.1:80\"}", "127.0.0.1:80")]
    [InlineData("{\"host\": \"10.0.0.5\", \"port\": 80, \"status\": \"[::]:80\"}", "[::]:80")]
    public void A_status_address_the_pixel_port_already_covers_is_refused(string json, string status)
    {
        Assert.Equal($"config.json: \"status\" {status} is the pixel port's own address (\"host\" and \"port\"); give the status listener a port of its own",
            ParseError(json));
    }

    [Theory]
    [InlineData("{\"port\": 9187, \"status\": 9188}")]
    [InlineData("{\"host\": \"10.0.0.5\", \"port\": 80, \"status\": \"127.0.0.1:80\"}")]
    [InlineData("{\"host\": \"0.0.0.0\", \"port\": 80, \"status\": \"[::1]:80\"}")]
    [InlineData("{\"port\": 0, \"status\": 0}")]
    [InlineData("{\"host\": \"example.org\", \"port\": 80, \"status\": \"127.0.0.1:80\"}")]
    public void A_status_address_of_its_own_is_taken(string json)
    {
        Assert.NotNull(ParseOk(json).Status);
    }

    [Theory]
    [InlineData("0.001", 10000)]
    [InlineData("0.5", 5000000)]
    [InlineData("86400", 864000000000)]
    [InlineData("1e1", 100000000)]
    public void Interval_seconds_with_fractions(string value, long ticks)
    {
        Assert.Equal(TimeSpan.FromTicks(ticks), ParseOk($$"""{"interval": {{value}}}""").Interval);
    }

    [Theory]
    [InlineData("http://example.org/hits", "example.org")]
    [InlineData("https://example.org:8443/a/b?c=d&e=f", "example.org")]
    [InlineData("HTTPS://Example.ORG/", "example.org")]
    [InlineData("http://127.0.0.1:3000/", "127.0.0.1")]
    [InlineData("http://[::1]/hits", "[::1]")]
    [InlineData("http://localhost", "localhost")]
    public void Endpoint_http_or_https_with_host(string value, string host)
    {
        Uri? endpoint = ParseOk($$"""{"endpoint": "{{value}}"}""").Endpoint?.Uri;

        Assert.NotNull(endpoint);
        Assert.True(endpoint.IsAbsoluteUri);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal(value, endpoint.OriginalString);
    }

    [Fact]
    public void Endpoint_empty_string_means_no_endpoint_with_a_warning()
    {
        var result = Parse("""{"endpoint": ""}""");

        Assert.True(result.Ok);
        Assert.Null(result.Settings.Endpoint);
        Assert.Equal(["config.json: \"endpoint\" is empty; hits will only be logged"], result.Warnings);
    }

    [Fact]
    public void Secret_empty_string_means_no_secret()
    {
        Assert.Null(ParseOk("""{"secret": ""}""").Secret);
        Assert.Equal(" a\"b ", ParseOk("""{"secret": " a\"b "}""").Secret);
    }

    [Theory]
    [InlineData("""{"endpointca": "ca.pem"}""")]
    [InlineData("""{"endpointca": "ca.pem", "endpoint": "http://example.org/hits"}""")]
    public void Endpoint_ca_without_an_https_endpoint_warns_and_is_dropped(string json)
    {
        var result = Parse(json);

        Assert.True(result.Ok);
        Assert.Null(result.Settings.EndpointCa);
        Assert.Equal(["config.json: \"endpointca\" is ignored without an https:// or rediss:// \"endpoint\""], result.Warnings);
    }

    [Fact]
    public void Endpoint_ca_with_an_https_endpoint_is_kept()
    {
        var result = Parse("""{"endpointca": "/etc/private-ca.pem", "endpoint": "https://stats.internal/hits"}""");

        Assert.True(result.Ok);
        Assert.Equal("/etc/private-ca.pem", result.Settings.EndpointCa);
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Ssl_ca_without_key_and_cert_warns_and_is_dropped()
    {
        var result = Parse("""{"sslca": "chain.pem"}""");

        Assert.True(result.Ok);
        Assert.Null(result.Settings.SslCa);
        Assert.False(result.Settings.Tls);
        Assert.Equal(["config.json: \"sslca\" is ignored without \"sslkey\" and \"sslcert\""], result.Warnings);
    }

    [Fact]
    public void File_paths_are_kept_as_written()
    {
        Settings s = ParseOk("""{"sslkey": "./a/../key.pem", "sslcert": "~/cert.pem"}""");

        Assert.Equal("./a/../key.pem", s.SslKey);
        Assert.Equal("~/cert.pem", s.SslCert);
        Assert.True(s.Tls);
    }

    [Fact]
    public void Comments_and_trailing_commas_are_allowed()
    {
        Settings s = ParseOk("""
            // Pixel Ping config
            {
              /* the port */ "port": 1234, // trailing comment
              "host": "::1",
            }
            // after the object
            """);

        Assert.Equal(1234, s.Port);
        Assert.Equal("::1", s.Host);
    }

    [Fact]
    public void Escaped_keys_and_values_are_decoded()
    {
        Settings s = ParseOk("""{"p\u006frt": 99, "secret": "caf\u00e9 \ud83d\ude00"}""");

        Assert.Equal(99, s.Port);
        Assert.Equal("café 😀", s.Secret);
    }

    [Fact]
    public void Utf8_bom_is_accepted()
    {
        byte[] json = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes("""{"port": 4242}""")];

        var result = Parse(json);

        Assert.True(result.Ok, result.Error);
        Assert.Equal(4242, result.Settings.Port);
    }

    [Fact]
    public void Try_parse_refuses_more_than_one_mi_b()
    {
        byte[] json = Padded(SettingsReader.MaxFileBytes + 1);

        var result = Parse(json);

        Assert.False(result.Ok);
        AssertOneLine(result.Error);
        Assert.Contains("larger than 1 MiB", result.Error, StringComparison.Ordinal);
    }

    private static byte[] Padded(int length)
    {
        byte[] json = new byte[length];
        json.AsSpan().Fill((byte)' ');
        "{\"port\": 5}"u8.CopyTo(json);
        return json;
    }

    [Fact]
    public void Try_load_reads_a_file()
    {
        string path = Path.Combine(_dir.FullName, "config.json");
        File.WriteAllText(path, """{"port": 5555, "bogus": 1}""");
        var warnings = new List<string>();

        bool ok = SettingsReader.TryLoad(path, out Settings settings, out string error, warnings);

        Assert.True(ok, error);
        Assert.Equal(5555, settings.Port);
        Assert.Equal(path, settings.ConfigPath);
        Assert.Equal([$"{path}: unknown key \"bogus\" ignored"], warnings);
    }

    [Fact]
    public void Try_load_exactly_one_mi_b_is_read()
    {
        string path = Path.Combine(_dir.FullName, "big.json");
        File.WriteAllBytes(path, Padded(SettingsReader.MaxFileBytes));

        bool ok = SettingsReader.TryLoad(path, out Settings settings, out string error, []);

        Assert.True(ok, error);
        Assert.Equal(5, settings.Port);
    }

    [Fact]
    public void Try_load_more_than_one_mi_b_is_refused()
    {
        string path = Path.Combine(_dir.FullName, "huge.json");
        File.WriteAllBytes(path, Padded(SettingsReader.MaxFileBytes + 1));

        string error = LoadError(path);

        Assert.Equal($"{path}: cannot read file: it is larger than 1 MiB (1048577 bytes)", error);
    }

    [Fact]
    public void Try_load_missing_file()
    {
        string path = Path.Combine(_dir.FullName, "nope.json");

        Assert.Equal($"{path}: cannot read file: no such file or directory", LoadError(path));
    }

    [Fact]
    public void Try_load_missing_directory()
    {
        string path = Path.Combine(_dir.FullName, "nope", "config.json");

        Assert.Equal($"{path}: cannot read file: no such file or directory", LoadError(path));
    }

    [Fact]
    public void Try_load_directory()
    {
        Assert.Equal($"{_dir.FullName}: cannot read file: it is a directory", LoadError(_dir.FullName));
    }

    [Fact]
    public void Try_load_empty_path()
    {
        Assert.Equal(": cannot read file: the path is empty", LoadError(""));
    }

    [Fact]
    public void Try_load_empty_file()
    {
        string path = Path.Combine(_dir.FullName, "empty.json");
        File.WriteAllBytes(path, []);

        Assert.StartsWith($"{path}: the file is empty", LoadError(path), StringComparison.Ordinal);
    }

    [Fact]
    public void Try_load_read_error_is_one_line()
    {
        // Reading /proc/self/mem at offset 0 fails with EIO: stands in for any I/O error, since the tests run as
        // root and cannot make a permission error.
        string error = LoadError("/proc/self/mem");

        Assert.StartsWith("/proc/self/mem: cannot read file: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void Try_load_path_with_newline_is_quoted_on_one_line()
    {
        string path = Path.Combine(_dir.FullName, "a\nb.json");

        string error = LoadError(path);

        Assert.DoesNotContain('\n', error);
        Assert.EndsWith("a\\nb.json\": cannot read file: no such file or directory", error, StringComparison.Ordinal);
    }

    private static string LoadError(string path)
    {
        var warnings = new List<string>();
        bool ok = SettingsReader.TryLoad(path, out Settings settings, out string error, warnings);
        Assert.False(ok);
        Assert.Equal(path, settings.ConfigPath);
        Assert.DoesNotContain('\n', error);
        return error;
    }

    [Fact]
    public void Describe_mentions_port_and_endpoint_and_hides_the_secret()
    {
        Settings s = ParseOk("""
            {"port": 8123, "host": "10.0.0.1", "endpoint": "https://stats.example.org/hits?x=1",
             "secret": "topsecretvalue", "interval": 2.5, "maxkeys": 777}
            """);

        string text = s.Describe();

        Assert.Contains("8123", text, StringComparison.Ordinal);
        Assert.Contains("10.0.0.1", text, StringComparison.Ordinal);
        Assert.Contains("https://stats.example.org/hits?x=…", text, StringComparison.Ordinal);
        Assert.Contains("(set)", text, StringComparison.Ordinal);
        Assert.Contains("2.5 s", text, StringComparison.Ordinal);
        Assert.Contains("0.0015 s", ParseOk("""{"interval": 0.0015}""").Describe(), StringComparison.Ordinal);
        Assert.Contains("777", text, StringComparison.Ordinal);
        Assert.Contains("http on", text, StringComparison.Ordinal);
        Assert.DoesNotContain("topsecretvalue", text, StringComparison.Ordinal);
        Assert.True(text.Split('\n').Length > 3);
    }

    [Fact]
    public void Describe_lists_every_key_once_with_where_its_value_came_from()
    {
        string[] lines = ParseOk("""{"port": 8123, "interval": null, "secret": "x", "sslca": "dropped.pem"}""").Describe().Split('\n');

        foreach (ConfigKey key in ConfigKeys.All)
        {
            Assert.Single(lines, l => l.StartsWith(key.Name + ":", StringComparison.Ordinal));
        }

        Assert.Contains("port:           8123 (from config.json)", lines);
        Assert.Contains("secret:         (set) (from config.json)", lines);
        Assert.Contains("interval:       60 s (default)", lines);
        Assert.Contains("host:           all interfaces, IPv6 and IPv4 (default)", lines);
        // Dropped with a warning for want of sslkey and sslcert: what runs is the default.
        Assert.Contains("sslca:          none (default)", lines);
    }

    [Fact]
    public void Describe_defaults_tls_and_any_port()
    {
        string plain = ParseOk("{}").Describe();
        string tls = ParseOk("""{"port": 0, "sslkey": "k.pem", "sslcert": "c.pem", "sslca": "ca.pem"}""").Describe();

        Assert.Contains("port 9187", plain, StringComparison.Ordinal);
        Assert.Contains("all interfaces", plain, StringComparison.Ordinal);
        Assert.Contains("\nendpoint:       none (default)\n", plain, StringComparison.Ordinal);
        Assert.Contains("https on", tls, StringComparison.Ordinal);
        Assert.Contains("any free port", tls, StringComparison.Ordinal);
        Assert.Contains("k.pem", tls, StringComparison.Ordinal);
        Assert.Contains("ca.pem", tls, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("'}' is an invalid start of a value. LineNumber: 0 | BytePositionInLine: 9.", "'}' is an invalid start of a value.")]
    [InlineData("Something\nbroke", "Something broke")]
    [InlineData(" LineNumber: 0 | BytePositionInLine: 3.", "syntax error")]
    public void Clean_json_reason_one_readable_line(string message, string expected)
    {
        Assert.Equal(expected, SettingsReader.CleanJsonReason(message));
    }

    [Fact]
    public void Quote_escapes_and_cuts()
    {
        Assert.Equal("\"a\\\"b\\\\c\\u0007\\t\"", PixelPing.Common.Quoting.Quote("a\"b\\c\u0007\t"));
        Assert.Equal("\"" + new string('x', 60) + "...\"", PixelPing.Common.Quoting.Quote(new string('x', 61)));
        Assert.Equal("\"" + new string('x', 60) + "\"", PixelPing.Common.Quoting.Quote(new string('x', 60)));
    }
}
