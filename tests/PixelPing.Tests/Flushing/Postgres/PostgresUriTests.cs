using PixelPing.Flushing.Postgres;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Flushing.Postgres;

public sealed class PostgresUriTests
{
    private static PostgresEndpoint Parsed(string uri, params string[] warnings)
    {
        PostgresUriResult result = PostgresUri.Parse(uri);
        Assert.Empty(result.Errors);
        Assert.Equal(warnings, result.Warnings);
        return result.Endpoint!;
    }

    private static string Error(string uri)
    {
        PostgresUriResult result = PostgresUri.Parse(uri);
        Assert.Null(result.Endpoint);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Every_part_is_read_and_percent_decoded()
    {
        PostgresEndpoint endpoint = Parsed("postgresql://us%40er:p%40ss%3Aw%2Fo%25rd@db.example.org:6543/st%2Fats?sslmode=verify-full&application_name=edge%201&connect_timeout=7&channel_binding=require&options=-c%20work_mem%3D8MB");

        Assert.Equal("us@er", endpoint.User);
        Assert.Equal("p@ss:w/o%rd", endpoint.Password);
        Assert.Equal("db.example.org", endpoint.Host);
        Assert.Equal(6543, endpoint.Port);
        Assert.Equal("st/ats", endpoint.Database);
        Assert.Equal(SslMode.VerifyFull, endpoint.SslMode);
        Assert.Equal("edge 1", endpoint.ApplicationName);
        Assert.Equal(TimeSpan.FromSeconds(7), endpoint.ConnectTimeout);
        Assert.Equal(ChannelBindingMode.Require, endpoint.ChannelBinding);
        Assert.Equal("-c work_mem=8MB", endpoint.Options);
        Assert.False(endpoint.IsUnixSocket);
    }

    [Fact]
    public void The_defaults_are_libpqs_with_pixel_ping_as_the_application()
    {
        PostgresEndpoint endpoint = Parsed("postgres://counter@localhost");

        Assert.Equal(5432, endpoint.Port);
        Assert.Equal("counter", endpoint.Database);
        Assert.Null(endpoint.Password);
        Assert.Equal(SslMode.Prefer, endpoint.SslMode);
        Assert.Equal(ChannelBindingMode.Prefer, endpoint.ChannelBinding);
        Assert.Equal("pixel-ping", endpoint.ApplicationName);
        Assert.Null(endpoint.ConnectTimeout);
        Assert.Null(endpoint.RootCertificates);
    }

    [Theory]
    [InlineData("postgresql://u@%2Fvar%2Frun%2Fpostgresql:5433/db", "/var/run/postgresql")]
    [InlineData("postgresql://u@/db?host=%2Ftmp%2Fpg", "/tmp/pg")]
    [InlineData("postgresql://u@/db?host=/tmp/pg", "/tmp/pg")]
    [InlineData("postgresql:///db?user=u", PostgresUri.DefaultSocketDirectory)]
    public void A_host_starting_with_a_slash_is_a_Unix_socket_directory(string uri, string directory)
    {
        PostgresEndpoint endpoint = Parsed(uri);

        Assert.True(endpoint.IsUnixSocket);
        Assert.Equal(directory, endpoint.Host);
        Assert.Equal(Path.Combine(directory, ".s.PGSQL." + endpoint.Port), endpoint.SocketPath);
    }

    [Fact]
    public void Parameters_win_over_the_parts_of_the_URI()
    {
        PostgresEndpoint endpoint = Parsed("postgresql://a:b@127.0.0.1:1/one?user=c&password=d&port=2&dbname=two&host=localhost");

        Assert.Equal(("c", "d", 2, "two", "localhost"), (endpoint.User, endpoint.Password, endpoint.Port, endpoint.Database, endpoint.Host));
    }

    [Fact]
    public void An_IPv6_address_is_in_brackets()
    {
        PostgresEndpoint endpoint = Parsed("postgresql://u@[::1]:5433/db");

        Assert.Equal(("::1", 5433), (endpoint.Host, endpoint.Port));
        Assert.True(endpoint.IsLocal);
    }

    [Theory]
    [InlineData("ssl=true", "Require")]
    [InlineData("sslmode=disable", "Disable")]
    [InlineData("sslmode=require", "Require")]
    [InlineData("sslmode=verify-ca", "VerifyCa")]
    public void The_TLS_mode_is_read(string query, string mode)
    {
        Assert.Equal(Enum.Parse<SslMode>(mode), Parsed("postgresql://u@localhost/db?" + query).SslMode);
    }

    [Fact]
    public void Require_with_a_root_certificate_file_verifies_the_chain_as_libpq_does()
    {
        string directory = TempDir.Create();
        string root = Path.Combine(directory, "root.pem");
        TestPki.WriteCertificates(root, TestPki.Shared.Root);

        PostgresEndpoint endpoint = Parsed($"postgresql://u@localhost/db?sslmode=require&sslrootcert={root}");

        Assert.Equal(SslMode.VerifyCa, endpoint.SslMode);
        Assert.Equal(TestPki.Shared.Root.Thumbprint, Assert.Single(endpoint.RootCertificates!).Thumbprint);
        Assert.Null(Parsed("postgresql://u@localhost/db?sslmode=verify-full&sslrootcert=system").RootCertificates);
    }

    [Fact]
    public void A_client_certificate_is_read_with_its_key_and_its_chain()
    {
        string directory = TempDir.Create();
        var client = TestPki.Shared.IssueLeaf("u", client: true);
        string cert = Path.Combine(directory, "client.crt");
        string key = Path.Combine(directory, "client.key");
        TestPki.WriteCertificates(cert, client, TestPki.Shared.Intermediate);
        TestPki.WriteKey(key, client);

        PostgresEndpoint endpoint = Parsed($"postgresql://u@localhost/db?sslcert={cert}&sslkey={key}");

        Assert.True(endpoint.ClientCertificate!.HasPrivateKey);
        Assert.Equal(client.Thumbprint, endpoint.ClientCertificate.Thumbprint);
        Assert.Equal(TestPki.Shared.Intermediate.Thumbprint, Assert.Single(endpoint.ClientChain).Thumbprint);

        string other = Path.Combine(directory, "other.key");
        TestPki.WriteKey(other, TestPki.Shared.IssueLeaf());
        Assert.Equal($"sslkey {other} is not the key of the certificate in sslcert {cert}", Error($"postgresql://u@localhost/db?sslcert={cert}&sslkey={other}"));
        Assert.Equal("sslcert and sslkey go together: give both files or neither", Error($"postgresql://u@localhost/db?sslcert={cert}"));
    }

    [Theory]
    [InlineData("0", null)]
    [InlineData("-3", null)]
    [InlineData("1", 2)]
    [InlineData("2", 2)]
    [InlineData("30", 30)]
    public void Connect_timeout_is_libpqs_seconds(string value, int? seconds)
    {
        Assert.Equal(seconds is int s ? TimeSpan.FromSeconds(s) : null, Parsed("postgresql://u@localhost/db?connect_timeout=" + value).ConnectTimeout);
    }

    [Theory]
    [InlineData("mysql://u@h/db", "a PostgreSQL endpoint starts with postgresql:// or postgres://")]
    [InlineData("postgresql://u@h/db?foo=1", "\"foo\" is not a PostgreSQL connection parameter")]
    [InlineData("postgresql://u@h/db?sslmode=on", "sslmode \"on\" is not one of disable, prefer, require, verify-ca, verify-full")]
    [InlineData("postgresql://u@h/db?channel_binding=yes", "channel_binding \"yes\" is not one of disable, prefer, require")]
    [InlineData("postgresql://u@h/db?sslmode=disable&channel_binding=require", "channel_binding=require needs TLS, and sslmode=disable turns it off")]
    [InlineData("postgresql://u@h:99999/db", "the port \"99999\" is not a number from 1 to 65535")]
    [InlineData("postgresql://u@h:x/db", "the port \"x\" is not a number from 1 to 65535")]
    [InlineData("postgresql://u@h1,h2/db", "several hosts are not supported: name one host")]
    [InlineData("postgresql://u@[::1/db", "the IPv6 address in the URI needs its closing ] (then :port, if any)")]
    [InlineData("postgresql://u@h/db?sslmode", "the parameter \"sslmode\" has no =value")]
    [InlineData("postgresql://u@h/d%zzb", "the database name has a bad %-escape (each % starts two hex digits, %00 is not allowed, and the bytes must be UTF-8)")]
    [InlineData("postgresql://u@h/d%00b", "the database name has a bad %-escape (each % starts two hex digits, %00 is not allowed, and the bytes must be UTF-8)")]
    [InlineData("postgresql://u@h/d%FFb", "the database name has a bad %-escape (each % starts two hex digits, %00 is not allowed, and the bytes must be UTF-8)")]
    [InlineData("postgresql://u@h/db?connect_timeout=soon", "connect_timeout \"soon\" is not a whole number of seconds")]
    [InlineData("postgresql://u@h/db?ssl=1", "the parameter ssl only takes the value true (got \"1\"); use sslmode")]
    [InlineData("postgresql://u@h/db?sslrootcert=/nonexistent/root.pem", "sslrootcert /nonexistent/root.pem: no such file or directory")]
    public void A_bad_URI_is_one_error_line(string uri, string error)
    {
        Assert.Equal(error, Error(uri));
    }

    [Fact]
    public void No_message_holds_the_password()
    {
        const string Password = "hunter2-secret";
        foreach (string uri in new[]
        {
            $"postgresql://u:{Password}@h/db?foo=1&sslmode=bad&target_session_attrs=any",
            $"postgresql://u:{Password}%zz@db.example.org/db",
            $"postgresql://u:{Password}@db.example.org/db?password={Password}%0",
        })
        {
            PostgresUriResult result = PostgresUri.Parse(uri);
            Assert.NotEmpty(result.Errors.Concat(result.Warnings));
            Assert.All(result.Errors.Concat(result.Warnings), line => Assert.DoesNotContain(Password, line, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_parameter_libpq_knows_and_pixel_ping_does_not_do_is_a_warning_naming_it()
    {
        Parsed("postgresql://u@localhost/db?target_session_attrs=read-write&keepalives=1",
            "the connection parameter target_session_attrs is not supported by pixel-ping and is ignored",
            "the connection parameter keepalives is not supported by pixel-ping and is ignored");
    }

    [Theory]
    [InlineData("prefer", "sslmode=prefer does not check that the server is db.example.org, so anyone on the way can pose as it: use sslmode=verify-full (with sslrootcert for a private CA)")]
    [InlineData("require", "sslmode=require does not check that the server is db.example.org, so anyone on the way can pose as it: use sslmode=verify-full (with sslrootcert for a private CA)")]
    [InlineData("verify-ca", "sslmode=verify-ca does not check that the server is db.example.org, so anyone on the way can pose as it: use sslmode=verify-full (with sslrootcert for a private CA)")]
    [InlineData("disable", "sslmode=disable sends the password and the counts to db.example.org in clear: use sslmode=verify-full")]
    public void Below_verify_full_a_host_on_the_network_is_a_warning(string mode, string warning)
    {
        Parsed("postgresql://u@db.example.org/db?sslmode=" + mode, warning);
    }

    [Theory]
    [InlineData("postgresql://u@db.example.org/db?sslmode=verify-full")]
    [InlineData("postgresql://u@localhost/db")]
    [InlineData("postgresql://u@127.0.0.1/db?sslmode=disable")]
    [InlineData("postgresql://u@[::1]/db?sslmode=require")]
    [InlineData("postgresql://u@%2Frun%2Fpostgresql/db")]
    public void Verify_full_or_a_host_on_this_machine_is_no_warning(string uri)
    {
        Parsed(uri);
    }
}
