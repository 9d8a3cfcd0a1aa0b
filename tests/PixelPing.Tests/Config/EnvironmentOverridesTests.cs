using System.Net;
using System.Text;
using PixelPing.Config;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Config;

/// <summary><c>PIXELPING_*</c> variables over the config file, through the reader the start and <c>--check</c> use.</summary>
public sealed class EnvironmentOverridesTests
{
    private static (bool Ok, Settings Settings, string Error, List<string> Warnings) Parse(string json, Dictionary<string, string> environment)
    {
        var warnings = new List<string>();
        bool ok = SettingsReader.TryParse(Encoding.UTF8.GetBytes(json), "config.json", out Settings settings, out string error, warnings, environment);
        return (ok, settings, error, warnings);
    }

    private static Settings ParseOk(string json, Dictionary<string, string> environment)
    {
        var result = Parse(json, environment);
        Assert.True(result.Ok, result.Error);
        return result.Settings;
    }

    [Fact]
    public void Variables_override_the_file_with_typed_values_and_say_where_they_came_from()
    {
        Settings settings = ParseOk("{ \"port\": 1000, \"interval\": 5, \"discard\": false }", new()
        {
            ["PIXELPING_PORT"] = "8080",
            ["PIXELPING_ENDPOINT"] = "https://stats.example.org/hits",
            ["PIXELPING_DISCARD"] = "true",
            ["PIXELPING_TIMEOUT"] = "2.5",
            ["PIXELPING_SECRET"] = "12345",
            ["PIXELPING_STATUS"] = "9188",
            ["PIXELPING_LOGFORMAT"] = "json",
            ["PIXELPING_SHUTDOWNDELAY"] = "0",
            ["OTHER_PORT"] = "1",
        });
        Assert.Equal(8080, settings.Port);
        Assert.Equal(new Uri("https://stats.example.org/hits"), settings.Endpoint?.Uri);
        Assert.True(settings.Discard);
        Assert.Equal(TimeSpan.FromSeconds(2.5), settings.Timeout);
        // A secret of digits is still a secret: a string key takes the text when the number does not fit it.
        Assert.Equal("12345", settings.Secret);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 9188), settings.Status);
        Assert.True(settings.JsonLog);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.Interval);

        Assert.Equal("environment PIXELPING_PORT", settings.Sources["port"]);
        Assert.Equal("config.json", settings.Sources["interval"]);
        Assert.False(settings.Sources.ContainsKey("maxkeys"));
        string described = settings.Describe();
        Assert.Contains("port:           8080 (from environment PIXELPING_PORT)", described, StringComparison.Ordinal);
        Assert.Contains("secret:         (set) (from environment PIXELPING_SECRET)", described, StringComparison.Ordinal);
        Assert.DoesNotContain("12345", described, StringComparison.Ordinal);
    }

    [Fact]
    public void A_FILE_variable_reads_the_value_from_the_file_without_its_trailing_line_break()
    {
        string dir = TempDir.Create();
        string secret = Path.Combine(dir, "secret");
        File.WriteAllText(secret, "s3cr3t with spaces\n");
        string endpoint = Path.Combine(dir, "endpoint");
        File.WriteAllText(endpoint, "http://127.0.0.1:1/hits\r\n");
        Settings settings = ParseOk("{}", new() { ["PIXELPING_SECRET_FILE"] = secret, ["PIXELPING_ENDPOINT_FILE"] = endpoint });
        Assert.Equal("s3cr3t with spaces", settings.Secret);
        Assert.Equal(new Uri("http://127.0.0.1:1/hits"), settings.Endpoint?.Uri);
        Assert.Equal("environment PIXELPING_SECRET_FILE", settings.Sources["secret"]);
    }

    [Theory]
    [InlineData("PIXELPING_PORT", "eighty", "environment variable PIXELPING_PORT: \"port\" must be a number or numeric string from 0 to 65535 (got \"eighty\")")]
    [InlineData("PIXELPING_DISCARD", "yes", "environment variable PIXELPING_DISCARD: \"discard\" must be true or false (got \"yes\")")]
    [InlineData("PIXELPING_INTERVAL", "0", "environment variable PIXELPING_INTERVAL: \"interval\" must be a number of seconds from 0.001 to 86400 (got 0)")]
    [InlineData("PIXELPING_LOGFORMAT", "xml", "environment variable PIXELPING_LOGFORMAT: \"logformat\" must be \"text\" or \"json\" (got \"xml\")")]
    [InlineData("PIXELPING_STATUS", "localhost:9188", "environment variable PIXELPING_STATUS: \"status\" must be an address and port such as \"127.0.0.1:9188\" or \"[::1]:9188\", or a port alone (got \"localhost:9188\")")]
    [InlineData("PIXELPING_ENDPONT", "http://x/", "environment variable PIXELPING_ENDPONT: no config key is named \"endpont\" (use PIXELPING_<KEY> or PIXELPING_<KEY>_FILE with a key from docs/configuration.md, such as PIXELPING_ENDPOINT)")]
    [InlineData("PIXELPING_Port", "80", "environment variable PIXELPING_Port: names are upper case: PIXELPING_PORT")]
    public void A_bad_variable_is_one_line_naming_it(string name, string value, string expected)
    {
        var result = Parse("{}", new() { [name] = value });
        Assert.False(result.Ok);
        Assert.Equal(expected, result.Error);
    }

    [Fact]
    public void Both_forms_of_one_key_or_an_unreadable_value_file_are_refused()
    {
        var both = Parse("{}", new() { ["PIXELPING_SECRET"] = "a", ["PIXELPING_SECRET_FILE"] = "/nonexistent" });
        Assert.False(both.Ok);
        Assert.Equal("environment variables PIXELPING_SECRET and PIXELPING_SECRET_FILE are both set; set only one", both.Error);

        var missing = Parse("{}", new() { ["PIXELPING_SECRET_FILE"] = "/nonexistent/secret" });
        Assert.False(missing.Ok);
        Assert.Equal("environment variable PIXELPING_SECRET_FILE: cannot read \"/nonexistent/secret\": no such file or directory", missing.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void An_empty_secret_from_the_environment_is_refused_rather_than_signing_nothing(string content)
    {
        if (content.Length == 0)
        {
            var direct = Parse("{}", new() { ["PIXELPING_SECRET"] = "" });
            Assert.False(direct.Ok);
            Assert.Equal("environment variable PIXELPING_SECRET: \"secret\" is empty, which would send no secret and sign nothing; "
                + "give it a value, or unset the variable to run without a secret", direct.Error);
        }

        string file = Path.Combine(TempDir.Create(), "secret");
        File.WriteAllText(file, content);
        var fromFile = Parse("{ \"secret\": \"from the config\" }", new() { ["PIXELPING_SECRET_FILE"] = file });
        Assert.False(fromFile.Ok);
        Assert.Equal($"environment variable PIXELPING_SECRET_FILE: \"secret\" is empty ({PixelPing.Common.Quoting.Quote(file)} holds no text), which would send no secret and sign nothing; "
            + "give it a value, or unset the variable to run without a secret", fromFile.Error);
    }

    [Fact]
    public void An_empty_secret_in_the_file_still_means_none_as_in_the_original()
    {
        Assert.Null(ParseOk("{ \"secret\": \"\" }", []).Secret);
    }

    [Theory]
    [InlineData("127.0.0.1:9188", "127.0.0.1:9188")]
    [InlineData("[::1]:9188", "[::1]:9188")]
    [InlineData("0.0.0.0:0", "0.0.0.0:0")]
    [InlineData("9188", "127.0.0.1:9188")]
    public void Status_takes_an_address_and_port_or_a_port(string value, string expected)
    {
        Assert.Equal(expected, ParseOk($"{{ \"status\": \"{value}\" }}", []).Status!.ToString());
        Assert.Equal(IPEndPoint.Parse("127.0.0.1:9188"), ParseOk("{ \"status\": 9188 }", []).Status);
    }

    [Theory]
    [InlineData("\"127.0.0.1\"")]
    [InlineData("\"::1:9188\"")]
    [InlineData("\"[127.0.0.1]:9188\"")]
    [InlineData("\"1:9188\"")]
    [InlineData("\"127.0.0.1:99999\"")]
    [InlineData("\"host.example:9188\"")]
    [InlineData("true")]
    [InlineData("-1")]
    public void Status_refuses_what_is_not_an_address_and_port(string value)
    {
        var result = Parse($"{{ \"status\": {value} }}", []);
        Assert.False(result.Ok);
        Assert.StartsWith("config.json: \"status\" must be an address and port such as", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Shutdowndelay_and_logformat_default_off_and_take_their_values()
    {
        Settings defaults = ParseOk("{}", []);
        Assert.Equal(TimeSpan.Zero, defaults.ShutdownDelay);
        Assert.False(defaults.JsonLog);
        Assert.Null(defaults.Status);
        Settings set = ParseOk("{ \"shutdowndelay\": 12.5, \"logformat\": \"json\" }", []);
        Assert.Equal(TimeSpan.FromSeconds(12.5), set.ShutdownDelay);
        Assert.True(set.JsonLog);
        Assert.False(Parse("{ \"shutdowndelay\": -1 }", []).Ok);
        Assert.False(Parse("{ \"logformat\": \"JSON\" }", []).Ok);
    }
}
