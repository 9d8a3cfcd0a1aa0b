using PixelPing.Flushing.Postgres;

namespace PixelPing.Tests.Flushing.Postgres;

public sealed class PostgresTablesTests
{
    [Fact]
    public void The_defaults_name_public_pixel_ping_hits_and_batches_quoted()
    {
        Assert.True(PostgresTables.TryCreate(PostgresTables.DefaultSchema, PostgresTables.DefaultPrefix, out PostgresTables? tables, out string error), error);

        Assert.Equal("\"public\"", tables!.Schema);
        Assert.Equal("\"public\".\"pixel_ping_hits\"", tables.Hits);
        Assert.Equal("\"public\".\"pixel_ping_batches\"", tables.Batches);
    }

    [Theory]
    [InlineData("Stats", "", "\"Stats\".\"hits\"")]
    [InlineData("a\"b", "x\"; DROP TABLE t; --", "\"a\"\"b\".\"x\"\"; DROP TABLE t; --hits\"")]
    [InlineData("stats é", "p_", "\"stats é\".\"p_hits\"")]
    public void Any_name_is_taken_literally_with_its_quotes_doubled(string schema, string prefix, string hits)
    {
        Assert.True(PostgresTables.TryCreate(schema, prefix, out PostgresTables? tables, out string error), error);
        Assert.Equal(hits, tables!.Hits);
    }

    [Theory]
    [InlineData("", "p_", "the schema is empty")]
    [InlineData("a\u0000b", "p_", "the schema \"a\\u0000b\" has a control character")]
    [InlineData("s", "p\n", "the table prefix \"p\\n\" has a control character")]
    [InlineData("sssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss", "p_",
        "the schema \"ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss...\" is 65 bytes long; PostgreSQL names hold at most 63 here")]
    [InlineData("s", "pppppppppppppppppppppppppppppppppppppppppppppppppppppppp_",
        "the table prefix \"pppppppppppppppppppppppppppppppppppppppppppppppppppppppp_\" is 57 bytes long; PostgreSQL names hold at most 56 here")]
    public void A_name_that_cannot_be_an_identifier_is_one_line(string schema, string prefix, string expected)
    {
        Assert.False(PostgresTables.TryCreate(schema, prefix, out _, out string error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void A_lone_surrogate_is_not_a_name()
    {
        // Built at run time: an attribute's string would hold U+FFFD instead.
        string prefix = "p" + (char)0xD800;

        Assert.False(PostgresTables.TryCreate("s", prefix, out _, out string error));
        Assert.Equal($"the table prefix \"{prefix}\" is not valid Unicode", error);
    }
}
