using System.Net;
using System.Net.Sockets;
using PixelPing.Flushing.Postgres;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Flushing.Postgres;

/// <summary>The protocol client against a real PostgreSQL 15: each authentication method, TLS modes, and the server's refusals.</summary>
[Trait("Kind", "External")]
[Collection("Postgres")]
public sealed class PgConnectionTests(PostgresServer server)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private string Tls(string mode = "verify-full") => $"sslmode={mode}&sslrootcert={server.RootCertificate}";

    private static PostgresEndpoint Endpoint(string uri)
    {
        PostgresUriResult parsed = PostgresUri.Parse(uri);
        Assert.Empty(parsed.Errors);
        return parsed.Endpoint!;
    }

    /// <summary>Connects; when that works, runs <paramref name="query"/> and returns its first value, else the failure's line.</summary>
    private static async Task<(PgResult Result, string? Value)> Connect(string uri, string query = "SELECT current_user")
    {
        (PgConnection? connection, PgResult result) = await PgConnection.ConnectAsync(Endpoint(uri), Timeout, CancellationToken.None);
        Assert.Equal(result.IsOk, connection is not null);
        if (connection is null)
        {
            return (result, null);
        }

        await using (connection)
        {
            PgResult answer = await connection.ExecuteAsync(query, null, CancellationToken.None);
            Assert.True(answer.IsOk, answer.Line);
            return (result, answer.Scalar);
        }
    }

    private static async Task<string> Refusal(string uri, PgStatus status)
    {
        (PgResult result, _) = await Connect(uri);
        Assert.Equal(status, result.Status);
        return result.Line;
    }

    [Fact]
    public async Task SCRAM_SHA_256_without_TLS()
    {
        (PgResult result, string? user) = await Connect(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, "sslmode=disable"),
            "SELECT current_user || ' ' || (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())");

        Assert.True(result.IsOk, result.Line);
        Assert.Equal("pixel false", user);
    }

    [Fact]
    public async Task SCRAM_SHA_256_PLUS_over_TLS_verified_in_full()
    {
        // channel_binding=require refuses any login that did not bind, so a success here is a -PLUS exchange.
        (PgResult result, string? user) = await Connect(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, Tls() + "&channel_binding=require"),
            "SELECT current_user || ' ' || (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())");

        Assert.True(result.IsOk, result.Line);
        Assert.Equal("pixel true", user);
    }

    [Fact]
    public async Task A_Unix_socket_directory_as_the_host()
    {
        (PgResult result, string? user) = await Connect(
            $"postgresql://{PostgresServer.Owner}:{PostgresServer.OwnerPassword}@{Uri.EscapeDataString(server.SocketDirectory)}:{server.Port}/{PostgresServer.Database}");

        Assert.True(result.IsOk, result.Line);
        Assert.Equal("pixel", user);
    }

    [Fact]
    public async Task Channel_binding_required_is_refused_without_TLS_and_for_methods_that_cannot_bind()
    {
        Assert.Equal("channel_binding=require, but the connection has no TLS", await Refusal(
            $"postgresql://{PostgresServer.Owner}:{PostgresServer.OwnerPassword}@/{PostgresServer.Database}?host={server.SocketDirectory}&port={server.Port}&channel_binding=require",
            PgStatus.Refused));
        Assert.Equal("channel_binding=require, but the server asks for md5 authentication, which cannot bind to the TLS connection", await Refusal(
            server.Uri(PostgresServer.Md5User, PostgresServer.Md5Password, Tls() + "&channel_binding=require"), PgStatus.Refused));
        Assert.Equal("channel_binding=require, but the server let the client in without SCRAM channel binding", await Refusal(
            server.Uri(PostgresServer.TrustUser, null, Tls() + "&channel_binding=require"), PgStatus.Refused));
    }

    [Fact]
    public async Task Md5()
    {
        (PgResult result, string? user) = await Connect(server.Uri(PostgresServer.Md5User, PostgresServer.Md5Password));

        Assert.True(result.IsOk, result.Line);
        Assert.Equal(PostgresServer.Md5User, user);
        Assert.Equal("password authentication failed for user \"md5user\" (SQLSTATE 28P01)",
            await Refusal(server.Uri(PostgresServer.Md5User, "not-it"), PgStatus.ServerError));
    }

    [Fact]
    public async Task Trust()
    {
        (PgResult result, string? user) = await Connect(server.Uri(PostgresServer.TrustUser, null));

        Assert.True(result.IsOk, result.Line);
        Assert.Equal(PostgresServer.TrustUser, user);
    }

    [Fact]
    public async Task A_cleartext_password_goes_to_loopback_or_over_TLS_only()
    {
        (PgResult loopback, _) = await Connect(server.Uri(PostgresServer.CleartextUser, PostgresServer.CleartextPassword));
        (PgResult tls, _) = await Connect(server.Uri(PostgresServer.CleartextUser, PostgresServer.CleartextPassword, "sslmode=require", host: server.NetworkAddress.ToString()));
        string plain = await Refusal(server.Uri(PostgresServer.CleartextUser, PostgresServer.CleartextPassword, "sslmode=disable", host: server.NetworkAddress.ToString()),
            PgStatus.Refused);

        Assert.True(loopback.IsOk, loopback.Line);
        Assert.True(tls.IsOk, tls.Line);
        Assert.Equal("the server asks for the password in clear (pg_hba.conf method \"password\") over a connection without TLS to another machine; refused: use TLS (sslmode) or scram-sha-256", plain);
    }

    [Fact]
    public async Task A_client_certificate_with_its_intermediate()
    {
        string certificate = Path.Combine(server.FilesDirectory, "certuser.crt");
        string key = Path.Combine(server.FilesDirectory, "certuser.key");
        var leaf = server.Pki.IssueLeaf(PostgresServer.CertUser, client: true);
        TestPki.WriteCertificates(certificate, leaf, server.Pki.Intermediate);
        TestPki.WriteKey(key, leaf);

        (PgResult result, string? user) = await Connect(server.Uri(PostgresServer.CertUser, null, Tls() + $"&sslcert={certificate}&sslkey={key}"));
        string without = await Refusal(server.Uri(PostgresServer.CertUser, null, Tls()), PgStatus.ServerError);

        Assert.True(result.IsOk, result.Line);
        Assert.Equal(PostgresServer.CertUser, user);
        Assert.Equal("connection requires a valid client certificate (SQLSTATE 28000)", without);
    }

    [Fact]
    public async Task A_wrong_password_is_one_line_without_the_password()
    {
        string line = await Refusal(server.Uri(PostgresServer.Owner, "wrong-password-123", Tls()), PgStatus.ServerError);

        Assert.Equal("password authentication failed for user \"pixel\" (SQLSTATE 28P01)", line);
    }

    [Fact]
    public async Task A_non_ASCII_password_is_refused_before_SCRAM()
    {
        Assert.Equal("the password has non-ASCII characters, which SCRAM needs normalised (SASLprep) and pixel-ping cannot do: use an ASCII password",
            await Refusal(server.Uri(PostgresServer.Owner, "pässwörd"), PgStatus.Refused));
    }

    [Fact]
    public async Task Verify_full_refuses_a_certificate_for_another_name_and_verify_ca_does_not()
    {
        // 127.0.0.2 is the same server, but its certificate names only localhost, 127.0.0.1 and ::1.
        string line = await Refusal(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, Tls("verify-full"), host: "127.0.0.2"), PgStatus.Refused);
        (PgResult chainOnly, _) = await Connect(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, Tls("verify-ca"), host: "127.0.0.2"));

        Assert.Equal("TLS certificate verification failed: the certificate is not valid for the host name 127.0.0.2", line);
        Assert.True(chainOnly.IsOk, chainOnly.Line);
    }

    [Fact]
    public async Task Verify_full_refuses_a_chain_to_another_CA()
    {
        string other = Path.Combine(server.FilesDirectory, "other-root.crt");
        TestPki.WriteCertificates(other, TestPki.Shared.Root);

        string line = await Refusal(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, $"sslmode=verify-full&sslrootcert={other}"), PgStatus.Refused);

        Assert.StartsWith("TLS certificate verification failed: certificate not trusted: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_database_that_does_not_exist()
    {
        Assert.Equal("database \"nowhere\" does not exist (SQLSTATE 3D000)",
            await Refusal(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, database: "nowhere"), PgStatus.ServerError));
    }

    [Theory]
    [InlineData("latin1", "LATIN1")]
    [InlineData("sqlascii", "SQL_ASCII")]
    public async Task A_database_not_in_UTF8_is_refused(string database, string encoding)
    {
        Assert.Equal($"the database \"{database}\" has the encoding {encoding}, not UTF8, so it cannot store every key: create it with ENCODING 'UTF8' TEMPLATE template0",
            await Refusal(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, database: database), PgStatus.Refused));
    }

    [Fact]
    public async Task A_server_that_never_answers_is_given_up_at_connect_timeout()
    {
        // A listener that accepts (the kernel completes the handshake) and never says a word.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        int port = ((IPEndPoint)silent.LocalEndpoint).Port;

        string line = await Refusal($"postgresql://u:p@127.0.0.1:{port}/db?connect_timeout=2", PgStatus.Lost);

        Assert.Equal($"no answer within 2s while connecting to 127.0.0.1:{port}", line);
    }

    [Fact]
    public async Task Binary_parameters_arrive_as_sent()
    {
        (PgConnection? connection, PgResult connected) = await PgConnection.ConnectAsync(
            Endpoint(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword)), Timeout, CancellationToken.None);
        Assert.True(connected.IsOk, connected.Line);
        await using (connection!)
        {
            var values = new PgValues();
            values.Date(new DateOnly(2024, 2, 29));
            values.TimestampTz(new DateTimeOffset(1999, 12, 31, 23, 59, 58, 500, TimeSpan.Zero).AddTicks(10));
            values.StartArray(PgType.TextArray, PgType.Text);
            foreach (byte[] key in new[] { "NULL"u8.ToArray(), "{a,b}"u8.ToArray(), "x\0y"u8.ToArray(), "\"q\""u8.ToArray() })
            {
                values.KeyTextElement(key);
            }

            values.EndArray();
            values.StartArray(PgType.ByteaArray, PgType.Bytea);
            values.Element([0, 255, 1]);
            values.EndArray();
            values.StartArray(PgType.Int8Array, PgType.Int8);
            values.Element(long.MaxValue);
            values.Element(-1);
            values.EndArray();
            values.Float8(0.25);
            values.Int32(-7);

            PgResult result = await connection!.ExecuteAsync(
                "SELECT $1::text, to_char($2 AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), ($3)[1] IS NULL, array_to_json($3)::text, " +
                "encode(($4)[1], 'hex'), ($5)[1], ($5)[2], $6, $7", values, CancellationToken.None);

            Assert.True(result.IsOk, result.Line);
            // A text array in the binary format keeps a key "NULL" a string, which the text format would read as NULL.
            Assert.Equal(["2024-02-29", "1999-12-31 23:59:58.500001", "f", "[\"NULL\",\"{a,b}\",\"x\\\\x00y\",\"\\\"q\\\"\"]", "00ff01",
                long.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), "-1", "0.25", "-7"], Assert.Single(result.Rows!).Select(v => v ?? "(null)"));
        }
    }

    [Fact]
    public async Task A_server_error_is_one_line_with_its_detail_and_the_connection_goes_on()
    {
        (PgConnection? connection, PgResult connected) = await PgConnection.ConnectAsync(
            Endpoint(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword)), Timeout, CancellationToken.None);
        Assert.True(connected.IsOk, connected.Line);
        await using (connection!)
        {
            PgResult created = await connection!.ExecuteAsync("CREATE TEMPORARY TABLE once (k text PRIMARY KEY)", null, CancellationToken.None);
            var key = new PgValues();
            key.Text("a\nb");
            PgResult first = await connection.ExecuteAsync("INSERT INTO once VALUES ($1)", key, CancellationToken.None);
            PgResult second = await connection.ExecuteAsync("INSERT INTO once VALUES ($1)", key, CancellationToken.None);
            PgResult after = await connection.ExecuteAsync("SELECT count(*) FROM once", null, CancellationToken.None);

            Assert.True(created.IsOk && first.IsOk, created.Line + first.Line);
            Assert.Equal("INSERT 0 1", first.Tag);
            Assert.Equal(PgStatus.ServerError, second.Status);
            Assert.Equal("duplicate key value violates unique constraint \"once_pkey\" (SQLSTATE 23505): Key (k)=(a\\nb) already exists.", second.Line);
            Assert.Equal("1", after.Scalar);
        }
    }

    [Fact]
    public async Task Large_and_small_messages_in_turn_are_read_whole()
    {
        (PgConnection? connection, PgResult connected) = await PgConnection.ConnectAsync(
            Endpoint(server.Uri(PostgresServer.Owner, PostgresServer.OwnerPassword, Tls())), Timeout, CancellationToken.None);
        Assert.True(connected.IsOk, connected.Line);
        await using (connection!)
        {
            PgResult result = await connection!.ExecuteAsync(
                "SELECT n, repeat(chr(64 + n % 26), CASE WHEN n % 3 = 0 THEN 300000 ELSE n END) FROM generate_series(1, 60) AS n", null, CancellationToken.None);

            Assert.True(result.IsOk, result.Line);
            Assert.Equal(60, result.Rows!.Count);
            foreach (string?[] row in result.Rows)
            {
                int n = int.Parse(row[0]!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(new string((char)(64 + (n % 26)), n % 3 == 0 ? 300_000 : n), row[1]);
            }
        }
    }
}
