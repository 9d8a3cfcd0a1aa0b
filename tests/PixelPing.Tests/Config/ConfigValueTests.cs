using System.Text;
using System.Text.Json;
using PixelPing.Config;

namespace PixelPing.Tests.Config;

public sealed class ConfigValueTests
{
    private static (ConfigValue Value, JsonTokenType After) Read(string json, bool readItems)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        ConfigValue value = ConfigValue.Read(ref reader, readItems);
        return (value, reader.TokenType);
    }

    [Fact]
    public void Array_for_a_list_key_reads_its_items_and_ends_on_the_arrays_end()
    {
        var (value, after) = Read("""["a", 2, null, [1, [2]], {"x": 1}, "\u0062"]""", readItems: true);

        Assert.Equal(ConfigValueKind.Array, value.Kind);
        Assert.Equal(JsonTokenType.EndArray, after);
        Assert.Equal(
            ["\"a\"", "2", "null", "an array", "an object", "\"b\""],
            value.Items!.Select(i => i.Got));
        Assert.True(value.Items![5].Escaped);
    }

    [Fact]
    public void Array_for_any_other_key_is_left_unread()
    {
        var (value, after) = Read("[1, 2]", readItems: false);

        Assert.Equal(ConfigValueKind.Array, value.Kind);
        Assert.Null(value.Items);
        Assert.Equal(JsonTokenType.StartArray, after);
        Assert.Equal("an array", value.Got);
    }

    [Theory]
    [InlineData("1e400", "1e400")]
    [InlineData("-0.5", "-0.5")]
    public void Number_keeps_its_text_and_is_infinite_when_out_of_range(string json, string got)
    {
        ConfigValue value = Read(json, readItems: false).Value;

        Assert.Equal(got, value.Got);
        Assert.Equal(json != "1e400", double.IsFinite(value.Number));
    }
}
