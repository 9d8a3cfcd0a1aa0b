using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Tests.Support;

/// <summary>
/// A PostgreSQL 15 server of the tests' own, from Debian's postgresql-15. initdb and pg_ctl refuse to run as root, and
/// CI runs as root, so they (and psql) run as the postgres user through runuser, in a temporary directory that user
/// owns. The server listens on a free port on 127.0.0.1, on 127.0.0.2 (an address its certificate does not name), on
/// the machine's own network address (not loopback, for the cleartext-password rule) and on a Unix socket; TLS is on
/// with a certificate from a test CA; pg_hba.conf has a user for each authentication method. The tests of the
/// "Postgres" collection share it; it is stopped at once (<c>pg_ctl stop -m immediate</c>) when they are done.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string Bin = "/usr/lib/postgresql/15/bin";

    /// <summary>Owns the database <see cref="Database"/>, so it may create tables in its public schema (scram-sha-256).</summary>
    public const string Owner = "pixel";
    public const string OwnerPassword = "pixel-secret";

    /// <summary>May log in to <see cref="Database"/> but has no right there until a test grants one (scram-sha-256).</summary>
    public const string Reader = "reader";
    public const string ReaderPassword = "reader-secret";

    /// <summary>Authenticates with md5 (its password stored as an md5 hash).</summary>
    public const string Md5User = "md5user";
    public const string Md5Password = "md5-secret";

    /// <summary>Authenticates with the cleartext method "password".</summary>
    public const string CleartextUser = "pwuser";
    public const string CleartextPassword = "pw-secret";

    /// <summary>Let in without a password (trust).</summary>
    public const string TrustUser = "trustuser";

    /// <summary>Authenticates with a client certificate (cert, over TLS only).</summary>
    public const string CertUser = "certuser";

    public const string Database = "pixel";

    private string _directory = "";

    public int Port { get; private set; }

    public string SocketDirectory => Path.Combine(_directory, "sock");

    /// <summary>The test CA's root, which the server's certificate chains to (a client's sslrootcert).</summary>
    public string RootCertificate => Path.Combine(_directory, "root.crt");

    public TestPki Pki { get; } = new("Postgres Test");

    /// <summary>An address of this machine that is not loopback; the server listens there too.</summary>
    public IPAddress NetworkAddress { get; private set; } = IPAddress.None;

    /// <summary>A fresh directory the tests may write files to (client certificates, a foreign CA).</summary>
    public string FilesDirectory => Path.Combine(_directory, "files");

    public async Task InitializeAsync()
    {
        Assert.True(Environment.UserName == "root", "the PostgreSQL tests run initdb and pg_ctl as the postgres user through runuser, which needs root (as .ci/run runs)");
        Assert.True(File.Exists(Path.Combine(Bin, "initdb")),
            $"{Bin}/initdb is missing: install Debian's postgresql-15 (apt-get install postgresql-15), as .ci/debian-packages.txt says");
        NetworkAddress = NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?? throw new InvalidOperationException("the machine has no IPv4 address besides loopback for the cleartext-password test");

        _directory = TempDir.Create();
        // The postgres user must reach its directory through the shared parent.
        string parent = Path.GetDirectoryName(_directory)!;
        File.SetUnixFileMode(parent, File.GetUnixFileMode(parent) | UnixFileMode.OtherExecute | UnixFileMode.GroupExecute);
        Directory.CreateDirectory(SocketDirectory);
        Directory.CreateDirectory(FilesDirectory);
        File.WriteAllText(Path.Combine(_directory, "superuser-password"), "postgres-secret\n");
        Run("chown", "-R", "postgres:postgres", _directory);
        Port = Ports.Free();

        string data = Path.Combine(_directory, "data");
        RunAsPostgres(null, Path.Combine(Bin, "initdb"), "-D", data, "-U", "postgres", "--pwfile", Path.Combine(_directory, "superuser-password"),
            "-E", "UTF8", "--locale=C", "-A", "scram-sha-256", "--no-sync", "--no-instructions");

        X509Certificate2 leaf = Pki.IssueLeaf();
        File.WriteAllText(Path.Combine(_directory, "server.crt"), leaf.ExportCertificatePem() + "\n" + Pki.Intermediate.ExportCertificatePem() + "\n");
        TestPki.WriteKey(Path.Combine(_directory, "server.key"), leaf);
        TestPki.WriteCertificates(RootCertificate, Pki.Root);
        Run("chown", "postgres:postgres", Path.Combine(_directory, "server.crt"), Path.Combine(_directory, "server.key"), RootCertificate);
        // The server refuses a key file that others can read.
        File.SetUnixFileMode(Path.Combine(_directory, "server.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        File.AppendAllText(Path.Combine(data, "postgresql.conf"), $"""

            listen_addresses = '127.0.0.1,127.0.0.2,{NetworkAddress}'
            port = {Port}
            unix_socket_directories = '{SocketDirectory}'
            ssl = on
            ssl_cert_file = '{_directory}/server.crt'
            ssl_key_file = '{_directory}/server.key'
            ssl_ca_file = '{RootCertificate}'
            password_encryption = 'scram-sha-256'
            max_connections = 60
            shared_buffers = 32MB
            fsync = off
            full_page_writes = off
            """);
        File.WriteAllText(Path.Combine(data, "pg_hba.conf"), $"""
            local   all  postgres                  peer
            local   all  all                       scram-sha-256
            hostssl all  {CertUser}  127.0.0.0/8   cert
            host    all  {TrustUser} 127.0.0.0/8   trust
            host    all  {Md5User}   127.0.0.0/8   md5
            host    all  {CleartextUser} all       password
            host    all  all         127.0.0.0/8   scram-sha-256
            host    all  all         0.0.0.0/0     scram-sha-256

            """);
        RunAsPostgres(null, Path.Combine(Bin, "pg_ctl"), "-D", data, "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60", "start");

        Psql($"""
            CREATE ROLE {Owner} LOGIN PASSWORD '{OwnerPassword}';
            CREATE DATABASE {Database} OWNER {Owner};
            CREATE ROLE {Reader} LOGIN PASSWORD '{ReaderPassword}';
            SET password_encryption = 'md5';
            CREATE ROLE {Md5User} LOGIN PASSWORD '{Md5Password}';
            RESET password_encryption;
            CREATE ROLE {CleartextUser} LOGIN PASSWORD '{CleartextPassword}';
            CREATE ROLE {TrustUser} LOGIN;
            CREATE ROLE {CertUser} LOGIN;
            CREATE DATABASE latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
            CREATE DATABASE sqlascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
            """);
        await Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        if (_directory.Length > 0 && File.Exists(Path.Combine(_directory, "data", "postmaster.pid")))
        {
            RunAsPostgres(null, Path.Combine(Bin, "pg_ctl"), "-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "stop");
        }

        return Task.CompletedTask;
    }

    /// <summary>A crash of the server: <c>pg_ctl stop -m immediate</c> (no checkpoint; the restart replays the WAL).</summary>
    public void Crash() =>
        RunAsPostgres(null, Path.Combine(Bin, "pg_ctl"), "-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "stop");

    /// <summary>Starts the server again on the same port and data, after <see cref="Crash"/>; returns once it takes connections.</summary>
    public void Restart() =>
        RunAsPostgres(null, Path.Combine(Bin, "pg_ctl"), "-D", Path.Combine(_directory, "data"), "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60", "start");

    /// <summary>A connection URI for <paramref name="user"/> on 127.0.0.1 (or <paramref name="host"/>), with the query given.</summary>
    public string Uri(string user, string? password, string query = "sslmode=disable", string host = "127.0.0.1", string database = Database) =>
        $"postgresql://{user}{(password is null ? "" : ":" + System.Uri.EscapeDataString(password))}@{host}:{Port}/{database}" + (query.Length > 0 ? "?" + query : "");

    /// <summary>Runs SQL as the superuser through psql on the Unix socket; returns what it printed (unaligned, tuples only).</summary>
    public string Psql(string sql, string database = "postgres") =>
        RunAsPostgres(sql, Path.Combine(Bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", SocketDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", "-d", database, "-f", "-").Trim();

    /// <summary>A psql session left open, for a transaction that holds a lock while a test runs.</summary>
    public Process OpenSession(string applicationName, string database = Database)
    {
        ProcessStartInfo info = RunAsPostgresInfo(Path.Combine(Bin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", SocketDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", "-d", database);
        info.Environment["PGAPPNAME"] = applicationName;
        info.RedirectStandardInput = true;
        var process = Process.Start(info)!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private string RunAsPostgres(string? input, string program, params string[] arguments) =>
        Execute(RunAsPostgresInfo(program, arguments), input);

    private ProcessStartInfo RunAsPostgresInfo(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo("runuser")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A directory the postgres user may enter: initdb and psql complain about one they cannot.
            WorkingDirectory = _directory,
        };
        foreach (string argument in new[] { "-u", "postgres", "--", program }.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        return info;
    }

    private static void Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        Execute(info, null);
    }

    private static string Execute(ProcessStartInfo info, string? input)
    {
        info.RedirectStandardInput = input is not null;
        using var process = Process.Start(info)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        if (input is not null)
        {
            process.StandardInput.Write(input);
            process.StandardInput.Close();
        }

        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(120)), $"{string.Join(' ', info.ArgumentList)} did not finish within 120 s");
        Assert.True(process.ExitCode == 0, $"{string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}: {errors.Result}{output.Result}");
        return output.Result;
    }
}
