using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PixelPing.Tls;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// One connection speaking PostgreSQL's frontend/backend protocol 3.0: TLS through SSLRequest, the startup message,
/// authentication (SCRAM-SHA-256 and -PLUS, md5, a cleartext password only over TLS or on this machine, trust), then
/// statements through the extended query protocol with the unnamed statement and portal, so that a PgBouncer in
/// transaction mode works, and binary parameters. The peer's ordinary refusals are <see cref="PgResult"/>s; exceptions
/// stay inside. After a <see cref="PgStatus.Lost"/> result the connection is of no further use.
/// </summary>
internal sealed class PgConnection : IAsyncDisposable
{
    private const int ProtocolVersion = 3 << 16;
    private const int SslRequestCode = 80877103;
    private const int CancelRequestCode = 80877102;

    // Bind values up to this size are copied into the message buffer and sent in one write; larger ones are written
    // from their own buffer, so that a statement of many keys is not held in memory twice.
    private const int InlineValues = 64 << 10;

    private static readonly TimeSpan s_cancelTimeout = TimeSpan.FromSeconds(3);

    private readonly PostgresEndpoint _endpoint;
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly PgReader _reader;
    private readonly PgWriter _writer = new();
    private readonly EndPoint _address;
    private readonly bool _tls;
    private ScramSha256? _scram;
    private bool _bound;
    private int _processId;
    private int _secretKey;
    private bool _hasKey;
    private string? _serverEncoding;
    private string? _clientEncoding;

    private PgConnection(PostgresEndpoint endpoint, Socket socket, Stream stream, EndPoint address, bool tls)
    {
        _endpoint = endpoint;
        _socket = socket;
        _stream = stream;
        _reader = new PgReader(stream);
        _address = address;
        _tls = tls;
    }

    /// <summary>The server's <c>server_version</c>: <c>15.18 (Debian 15.18-1.pgdg120+1)</c>.</summary>
    public string ServerVersion { get; private set; } = "";

    /// <summary>True once the conversation broke off: the connection cannot be used again.</summary>
    public bool IsLost { get; private set; }

    /// <summary>ReadyForQuery's status after the last statement: <c>I</c> idle, <c>T</c> in a transaction, <c>E</c> in a failed one.</summary>
    public char TransactionStatus { get; private set; } = 'I';

    /// <summary>
    /// Connects, negotiates TLS as <c>sslmode</c> says, starts the session and authenticates, all within the endpoint's
    /// <c>connect_timeout</c>, or <paramref name="timeout"/> without one (and before <paramref name="cancellation"/>).
    /// </summary>
    public static async Task<(PgConnection? Connection, PgResult Result)> ConnectAsync(
        PostgresEndpoint endpoint, TimeSpan timeout, CancellationToken cancellation)
    {
        timeout = endpoint.ConnectTimeout ?? timeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        Socket? socket = null;
        Stream? stream = null;
        PgConnection? connection = null;
        SslPolicyErrors verification = SslPolicyErrors.None;
        X509ChainStatusFlags chainStatus = X509ChainStatusFlags.NoError;
        try
        {
            EndPoint address;
            (socket, address) = await OpenAsync(endpoint, deadline.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: false);
            bool tls = false;
            // libpq does not ask for TLS over a Unix socket, whatever sslmode says: the kernel is the only path.
            if (!endpoint.IsUnixSocket && endpoint.SslMode != SslMode.Disable)
            {
                switch (await RequestTlsAsync(stream, deadline.Token).ConfigureAwait(false))
                {
                    case (byte)'S':
                        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                        stream = ssl;
                        await ssl.AuthenticateAsClientAsync(TlsOptions(endpoint, (errors, chain) =>
                        {
                            verification = errors;
                            chainStatus = chain;
                        }), deadline.Token).ConfigureAwait(false);
                        tls = true;
                        break;
                    case (byte)'N' when endpoint.SslMode >= SslMode.Require:
                        return (null, PgResult.Refused($"the server does not accept TLS connections, and sslmode={PostgresUri.Name(endpoint.SslMode)} needs TLS"));
                    case (byte)'N':
                        break;
                    default:
                        return (null, PgResult.Lost("the server did not answer the TLS request as PostgreSQL does (is this a PostgreSQL port?)"));
                }
            }

            connection = new PgConnection(endpoint, socket, stream, address, tls);
            stream = null;
            socket = null;
            PgResult started = await connection.StartAsync(deadline.Token).ConfigureAwait(false);
            if (!started.IsOk)
            {
                return (null, started);
            }

            PgConnection ready = connection;
            connection = null;
            return (ready, started);
        }
        catch (OperationCanceledException)
        {
            return (null, PgResult.Lost(cancellation.IsCancellationRequested
                ? "cancelled while connecting"
                : $"no answer within {Seconds(timeout)} while connecting to {Where(endpoint)}"));
        }
        catch (AuthenticationException e)
        {
            return (null, PgResult.Refused(verification != SslPolicyErrors.None
                ? HandshakeFailure.DescribeVerification(verification, chainStatus, endpoint.Host)
                : HandshakeFailure.DescribeHandshake(e)));
        }
        catch (Exception e) when (e is SocketException or IOException or InvalidDataException)
        {
            return (null, PgResult.Lost(Describe(e) + " (" + Where(endpoint) + ")"));
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            socket?.Dispose();
        }
    }

    /// <summary>
    /// Runs one statement: Parse (unnamed), Bind (unnamed portal, binary parameters, text results), Execute, Sync, and
    /// reads up to ReadyForQuery. When <paramref name="cancellation"/> fires first, a CancelRequest stops the statement
    /// on the server (closing our socket would not: a backend notices a vanished client only when it next writes to it),
    /// and the connection is given up.
    /// </summary>
    public async Task<PgResult> ExecuteAsync(string sql, PgValues? values, CancellationToken cancellation)
    {
        if (IsLost)
        {
            return PgResult.Lost("the connection to the server was lost");
        }

        try
        {
            await SendStatementAsync(sql, values, cancellation).ConfigureAwait(false);
            return await ReadResultAsync(cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            IsLost = true;
            bool cancelled = await SendCancelAsync().ConfigureAwait(false);
            return PgResult.Lost(cancelled
                ? "the statement was stopped on the server with a cancel request"
                : "the statement may still run on the server: the cancel request did not reach it");
        }
        catch (Exception e) when (e is SocketException or IOException or InvalidDataException or ObjectDisposedException)
        {
            IsLost = true;
            return PgResult.Lost(Describe(e));
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!IsLost)
        {
            IsLost = true;
            try
            {
                // Terminate: the backend ends at once instead of logging an unexpected EOF.
                using var quick = new CancellationTokenSource(s_cancelTimeout);
                _writer.Reset();
                _writer.StartMessage((byte)'X');
                _writer.EndMessage();
                await _stream.WriteAsync(_writer.Written, quick.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    private static SslClientAuthenticationOptions TlsOptions(PostgresEndpoint endpoint, Action<SslPolicyErrors, X509ChainStatusFlags> refused)
    {
        var policy = new X509ChainPolicy
        {
            RevocationMode = X509RevocationMode.NoCheck,
            // The server must send its intermediates; nothing is fetched from URLs in its certificate.
            DisableCertificateDownloads = true,
        };
        if (endpoint.RootCertificates is not null)
        {
            policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            policy.CustomTrustStore.AddRange(endpoint.RootCertificates);
        }

        return new SslClientAuthenticationOptions
        {
            // The name for SNI and for verify-full's check; an IP address is matched against the certificate's IP entries.
            TargetHost = endpoint.Host,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateChainPolicy = policy,
            ClientCertificateContext = endpoint.ClientCertificate is null ? null
                : SslStreamCertificateContext.Create(endpoint.ClientCertificate, endpoint.ClientChain, offline: true),
            RemoteCertificateValidationCallback = (_, _, chain, errors) =>
            {
                // prefer and require encrypt without checking who is at the other end, as in libpq; verify-ca checks the
                // chain only; verify-full the chain and the name.
                SslPolicyErrors counted = endpoint.SslMode switch
                {
                    SslMode.VerifyFull => errors,
                    SslMode.VerifyCa => errors & ~SslPolicyErrors.RemoteCertificateNameMismatch,
                    _ => SslPolicyErrors.None,
                };
                if (counted != SslPolicyErrors.None)
                {
                    refused(counted, HandshakeFailure.ChainStatus(chain));
                }

                return counted == SslPolicyErrors.None;
            },
        };
    }

    private static async Task<(Socket Socket, EndPoint Address)> OpenAsync(PostgresEndpoint endpoint, CancellationToken cancellation)
    {
        if (endpoint.IsUnixSocket)
        {
            var path = new UnixDomainSocketEndPoint(endpoint.SocketPath);
            return (await AttemptAsync(path, AddressFamily.Unix, ProtocolType.Unspecified, cancellation).ConfigureAwait(false), path);
        }

        IPAddress[] addresses = IPAddress.TryParse(endpoint.Host, out IPAddress? literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(endpoint.Host, cancellation).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        // In the resolver's order, each to the end, as libpq does; the connect deadline bounds them all.
        var failures = new List<string>();
        foreach (IPAddress address in addresses)
        {
            var target = new IPEndPoint(address, endpoint.Port);
            try
            {
                Socket socket = await AttemptAsync(target, address.AddressFamily, ProtocolType.Tcp, cancellation).ConfigureAwait(false);
                socket.NoDelay = true;
                return (socket, target);
            }
            catch (SocketException e) when (addresses.Length > 1)
            {
                failures.Add(target + ": " + Describe(e));
            }
        }

        throw new IOException($"every address of {endpoint.Host} failed: {string.Join(", ", failures)}");
    }

    private static async Task<Socket> AttemptAsync(EndPoint target, AddressFamily family, ProtocolType protocol, CancellationToken cancellation)
    {
        var socket = new Socket(family, SocketType.Stream, protocol);
        try
        {
            await socket.ConnectAsync(target, cancellation).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>SSLRequest, and the server's one-byte answer, read alone: what follows an 'S' belongs to the TLS handshake.</summary>
    private static async Task<byte> RequestTlsAsync(Stream stream, CancellationToken cancellation)
    {
        byte[] request = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(request, 8);
        BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(4), SslRequestCode);
        await stream.WriteAsync(request, cancellation).ConfigureAwait(false);
        byte[] answer = new byte[1];
        await stream.ReadExactlyAsync(answer, cancellation).ConfigureAwait(false);
        return answer[0];
    }

    private async Task<PgResult> StartAsync(CancellationToken cancellation)
    {
        _writer.Reset();
        _writer.StartUntyped();
        _writer.Int32(ProtocolVersion);
        StartupParameter("user", _endpoint.User);
        StartupParameter("database", _endpoint.Database);
        StartupParameter("application_name", _endpoint.ApplicationName);
        StartupParameter("client_encoding", "UTF8");
        if (_endpoint.Options is { Length: > 0 } options)
        {
            StartupParameter("options", options);
        }

        _writer.Byte(0);
        _writer.EndMessage();
        await SendAsync(cancellation).ConfigureAwait(false);

        while (true)
        {
            PgMessage message = await _reader.ReadAsync(cancellation).ConfigureAwait(false);
            switch (message.Type)
            {
                case (byte)'R':
                    PgResult? step = Authenticate(message.Body.Span);
                    if (step is not null)
                    {
                        if (!step.IsOk)
                        {
                            return step;
                        }

                        return await ReadSessionAsync(cancellation).ConfigureAwait(false);
                    }

                    if (_writer.Length > 0)
                    {
                        await SendAsync(cancellation).ConfigureAwait(false);
                    }

                    break;
                case (byte)'E':
                    return PgResult.Failed(PgError.Parse(message.Body.Span));
                case (byte)'N' or (byte)'v':
                    // A notice, or NegotiateProtocolVersion (we ask for 3.0 with no extensions, which every server speaks).
                    break;
                default:
                    return PgResult.Lost($"the server sent an unexpected message ({(char)message.Type}) during authentication");
            }
        }
    }

    /// <summary>
    /// One authentication request: the answer to send is left in the writer. Null to go on; an ok result once the
    /// server said AuthenticationOk; a refusal when the client will not answer this request.
    /// </summary>
    private PgResult? Authenticate(ReadOnlySpan<byte> body)
    {
        var fields = new PgFields(body);
        int code = fields.Int32();
        _writer.Reset();
        switch (code)
        {
            case 0:
                return _endpoint.ChannelBinding == ChannelBindingMode.Require && !_bound
                    ? PgResult.Refused("channel_binding=require, but the server let the client in without SCRAM channel binding")
                    : new PgResult(PgStatus.Ok);

            case 3:
                if (Unbindable("password") is { } noBinding)
                {
                    return noBinding;
                }

                if (!_tls && !IsOnThisMachine)
                {
                    return PgResult.Refused("the server asks for the password in clear (pg_hba.conf method \"password\") over a connection without TLS to another machine; refused: use TLS (sslmode) or scram-sha-256");
                }

                if (NoPassword() is { } missing)
                {
                    return missing;
                }

                _writer.StartMessage((byte)'p');
                _writer.CString(_endpoint.Password!);
                _writer.EndMessage();
                return null;

            case 5:
                if (Unbindable("md5") is { } noBindingMd5)
                {
                    return noBindingMd5;
                }

                if (NoPassword() is { } missingMd5)
                {
                    return missingMd5;
                }

                // "md5" + md5(hex(md5(password + user)) + salt), in lower-case hex.
                string inner = Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(_endpoint.Password! + _endpoint.User)));
                byte[] outer = MD5.HashData([.. Encoding.ASCII.GetBytes(inner), .. fields.Bytes(4)]);
                _writer.StartMessage((byte)'p');
                _writer.CString("md5" + Convert.ToHexStringLower(outer));
                _writer.EndMessage();
                return null;

            case 10:
                return StartScram(ref fields);

            case 11:
                if (_scram is null)
                {
                    return PgResult.Lost("the server continued a SASL exchange that had not started");
                }

                if (!_scram.TryClientFinal(fields.Rest, out byte[] clientFinal, out string error))
                {
                    return PgResult.Refused(error);
                }

                _writer.StartMessage((byte)'p');
                _writer.Bytes(clientFinal);
                _writer.EndMessage();
                return null;

            case 12:
                if (_scram is null)
                {
                    return PgResult.Lost("the server ended a SASL exchange that had not started");
                }

                if (!_scram.VerifyServerFinal(fields.Rest, out string wrong))
                {
                    return PgResult.Refused(wrong);
                }

                _bound = _scram.Mechanism.EndsWith("-PLUS", StringComparison.Ordinal);
                return null;

            default:
                string method = code switch
                {
                    2 => "Kerberos V5",
                    7 or 8 => "GSSAPI",
                    9 => "SSPI",
                    _ => "number " + code.ToString(CultureInfo.InvariantCulture),
                };
                return PgResult.Refused($"the server asks for {method} authentication, which pixel-ping does not do (use scram-sha-256 in pg_hba.conf)");
        }
    }

    private PgResult? StartScram(ref PgFields fields)
    {
        var mechanisms = new List<string>();
        while (!fields.IsEmpty && fields.Rest[0] != 0)
        {
            mechanisms.Add(fields.CString());
        }

        bool offersPlus = mechanisms.Contains("SCRAM-SHA-256-PLUS");
        byte[]? binding = null;
        if (_tls && offersPlus && _endpoint.ChannelBinding != ChannelBindingMode.Disable)
        {
            binding = ((SslStream)_stream).RemoteCertificate is X509Certificate2 certificate ? TlsServerEndPoint.Hash(certificate) : null;
        }

        if (binding is null && _endpoint.ChannelBinding == ChannelBindingMode.Require)
        {
            return PgResult.Refused(!_tls ? "channel_binding=require, but the connection has no TLS"
                : !offersPlus ? "channel_binding=require, but the server does not offer SCRAM-SHA-256-PLUS"
                : "channel_binding=require, but the server certificate's signature algorithm gives no tls-server-end-point hash to bind to");
        }

        if (binding is null && !mechanisms.Contains("SCRAM-SHA-256"))
        {
            return PgResult.Refused("the server offers only SASL mechanisms pixel-ping does not do: " + LogEscape.Text(string.Join(", ", mechanisms)));
        }

        if (NoPassword() is { } missing)
        {
            return missing;
        }

        if (!Ascii.IsValid(_endpoint.Password!))
        {
            // SCRAM hashes the password after SASLprep (RFC 4013), which needs Unicode normalisation tables that this
            // build leaves out (invariant globalisation); hashing it unprepared would fail for some passwords only.
            return PgResult.Refused("the password has non-ASCII characters, which SCRAM needs normalised (SASLprep) and pixel-ping cannot do: use an ASCII password");
        }

        // "y": this client could bind, but the server offered no -PLUS (RFC 5802 §6), so a stripped offer shows.
        bool couldBind = _tls && !offersPlus && _endpoint.ChannelBinding != ChannelBindingMode.Disable;
        _scram = new ScramSha256("", _endpoint.Password!, binding, couldBind, ScramSha256.NewNonce());
        byte[] first = _scram.ClientFirst();
        _writer.StartMessage((byte)'p');
        _writer.CString(_scram.Mechanism);
        _writer.Int32(first.Length);
        _writer.Bytes(first);
        _writer.EndMessage();
        return null;
    }

    private PgResult? Unbindable(string method) => _endpoint.ChannelBinding == ChannelBindingMode.Require
        ? PgResult.Refused($"channel_binding=require, but the server asks for {method} authentication, which cannot bind to the TLS connection")
        : null;

    private PgResult? NoPassword() => _endpoint.Password is null
        ? PgResult.Refused($"the server asks for a password for user {Quoting.Quote(_endpoint.User)}, and the endpoint gives none")
        : null;

    private bool IsOnThisMachine => _endpoint.IsUnixSocket || (_address is IPEndPoint ip && IPAddress.IsLoopback(ip.Address));

    /// <summary>After AuthenticationOk: the server's parameters and the cancel key, up to the first ReadyForQuery.</summary>
    private async Task<PgResult> ReadSessionAsync(CancellationToken cancellation)
    {
        while (true)
        {
            PgMessage message = await _reader.ReadAsync(cancellation).ConfigureAwait(false);
            switch (message.Type)
            {
                case (byte)'S':
                    ParameterStatus(message.Body.Span);
                    break;
                case (byte)'K':
                    var key = new PgFields(message.Body.Span);
                    _processId = key.Int32();
                    _secretKey = key.Int32();
                    _hasKey = true;
                    break;
                case (byte)'E':
                    return PgResult.Failed(PgError.Parse(message.Body.Span));
                case (byte)'N':
                    break;
                case (byte)'Z':
                    TransactionStatus = (char)message.Body.Span[0];
                    return CheckEncoding();
                default:
                    return PgResult.Lost($"the server sent an unexpected message ({(char)message.Type}) while starting the session");
            }
        }
    }

    /// <summary>
    /// Keys are stored as UTF-8 text, so the database must be UTF8. A LATIN1 (or other single-byte) database cannot hold
    /// most keys; a SQL_ASCII one would take the bytes unchecked and unconverted, so the column's meaning would depend
    /// on each client's encoding. Both are refused, with the way out.
    /// </summary>
    private PgResult CheckEncoding()
    {
        if (_serverEncoding != "UTF8")
        {
            return PgResult.Refused($"the database {Quoting.Quote(_endpoint.Database)} has the encoding {LogEscape.Text(_serverEncoding ?? "(unknown)")}, not UTF8, so it cannot store every key: create it with ENCODING 'UTF8' TEMPLATE template0");
        }

        return _clientEncoding != "UTF8"
            ? PgResult.Refused($"the server did not take client_encoding UTF8 (it says {LogEscape.Text(_clientEncoding ?? "(nothing)")})")
            : new PgResult(PgStatus.Ok);
    }

    private void ParameterStatus(ReadOnlySpan<byte> body)
    {
        var fields = new PgFields(body);
        string name = fields.CString();
        string value = fields.CString();
        switch (name)
        {
            case "server_version": ServerVersion = value; break;
            case "server_encoding": _serverEncoding = value; break;
            case "client_encoding": _clientEncoding = value; break;
        }
    }

    private void StartupParameter(string name, string value)
    {
        _writer.CString(name);
        _writer.CString(value);
    }

    private async Task SendStatementAsync(string sql, PgValues? values, CancellationToken cancellation)
    {
        int count = values?.Types.Count ?? 0;
        ReadOnlyMemory<byte> data = values?.Data ?? default;
        _writer.Reset();
        _writer.StartMessage((byte)'P');
        _writer.CString("");
        _writer.CString(sql);
        _writer.Int16((short)count);
        for (int i = 0; i < count; i++)
        {
            _writer.Int32((int)values!.Types[i]);
        }

        _writer.EndMessage();

        _writer.StartMessage((byte)'B');
        _writer.CString("");
        _writer.CString("");
        if (count > 0)
        {
            // One format code for all parameters: binary.
            _writer.Int16(1);
            _writer.Int16(1);
        }
        else
        {
            _writer.Int16(0);
        }

        _writer.Int16((short)count);
        if (data.Length <= InlineValues)
        {
            _writer.Bytes(data.Span);
            _writer.Int16(0); // results in text format
            _writer.EndMessage();
            WriteExecuteAndSync();
            await SendAsync(cancellation).ConfigureAwait(false);
            return;
        }

        // The Bind's length counts the values and the result-format count, which follow from their own buffers.
        _writer.EndMessage(following: data.Length + 2);
        await _stream.WriteAsync(_writer.Written, cancellation).ConfigureAwait(false);
        await _stream.WriteAsync(data, cancellation).ConfigureAwait(false);
        _writer.Reset();
        _writer.Int16(0);
        WriteExecuteAndSync();
        await SendAsync(cancellation).ConfigureAwait(false);
    }

    private void WriteExecuteAndSync()
    {
        _writer.StartMessage((byte)'E');
        _writer.CString("");
        _writer.Int32(0); // all rows
        _writer.EndMessage();
        _writer.StartMessage((byte)'S');
        _writer.EndMessage();
    }

    private async Task SendAsync(CancellationToken cancellation)
    {
        await _stream.WriteAsync(_writer.Written, cancellation).ConfigureAwait(false);
        await _stream.FlushAsync(cancellation).ConfigureAwait(false);
    }

    private async Task<PgResult> ReadResultAsync(CancellationToken cancellation)
    {
        string tag = "";
        List<string?[]>? rows = null;
        PgError? error = null;
        while (true)
        {
            PgMessage message = await _reader.ReadAsync(cancellation).ConfigureAwait(false);
            switch (message.Type)
            {
                case (byte)'1' or (byte)'2' or (byte)'n' or (byte)'I':
                    // ParseComplete, BindComplete, NoData, EmptyQueryResponse.
                    break;
                case (byte)'D':
                    (rows ??= []).Add(DataRow(message.Body.Span));
                    break;
                case (byte)'C':
                    tag = new PgFields(message.Body.Span).CString();
                    break;
                case (byte)'E':
                    error = PgError.Parse(message.Body.Span);
                    if (error.EndsSession)
                    {
                        // FATAL: the server closes the connection after this (pg_terminate_backend, a shutdown).
                        IsLost = true;
                        return PgResult.Failed(error);
                    }

                    break;
                case (byte)'N' or (byte)'A':
                    // A notice or a notification: nothing a flush acts on.
                    break;
                case (byte)'S':
                    ParameterStatus(message.Body.Span);
                    break;
                case (byte)'Z':
                    TransactionStatus = (char)message.Body.Span[0];
                    return error is null ? new PgResult(PgStatus.Ok, tag, rows) : PgResult.Failed(error);
                default:
                    throw new InvalidDataException($"the server sent an unexpected message ({(char)message.Type}) in answer to a statement");
            }
        }
    }

    private static string?[] DataRow(ReadOnlySpan<byte> body)
    {
        var fields = new PgFields(body);
        string?[] row = new string?[fields.Int16()];
        for (int i = 0; i < row.Length; i++)
        {
            int length = fields.Int32();
            row[i] = length < 0 ? null : Encoding.UTF8.GetString(fields.Bytes(length));
        }

        return row;
    }

    /// <summary>
    /// CancelRequest (protocol §55.2.7) on a new connection to the same server, with the backend's process id and
    /// secret key. It waits for the server to close that connection, which it does once it has signalled the backend,
    /// so that the statement is stopped before the caller moves on. False when the server could not be reached.
    /// </summary>
    private async Task<bool> SendCancelAsync()
    {
        if (!_hasKey)
        {
            return false;
        }

        using var timeout = new CancellationTokenSource(s_cancelTimeout);
        try
        {
            using Socket socket = await AttemptAsync(_address, _address.AddressFamily,
                _address is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp, timeout.Token).ConfigureAwait(false);
            byte[] request = new byte[16];
            BinaryPrimitives.WriteInt32BigEndian(request, 16);
            BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(4), CancelRequestCode);
            BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(8), _processId);
            BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(12), _secretKey);
            await socket.SendAsync(request, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            await socket.ReceiveAsync(new byte[1], SocketFlags.None, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private static string Where(PostgresEndpoint endpoint) => endpoint.IsUnixSocket
        ? LogEscape.Text(endpoint.SocketPath)
        : LogEscape.Text(endpoint.Host.Contains(':', StringComparison.Ordinal) ? "[" + endpoint.Host + "]" : endpoint.Host) + ":" + endpoint.Port.ToString(CultureInfo.InvariantCulture);

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString(CultureInfo.InvariantCulture) + "s";

    private static string Describe(Exception e) => e switch
    {
        SocketException s => s.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.NoData => "host not found",
            SocketError.TimedOut => "connection timed out",
            SocketError.ConnectionReset => "connection reset by the server",
            SocketError.AddressNotAvailable => "no such socket",
            _ => s.Message,
        },
        IOException { InnerException: SocketException inner } => Describe(inner),
        _ => e.Message,
    };
}
