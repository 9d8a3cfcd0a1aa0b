using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using PixelPing.Common;
using static System.FormattableString;

namespace PixelPing.Flushing.Redis;

/// <summary>
/// Stores batches in Redis, standalone or a Cluster, exactly once: each part of a batch is one run of
/// <see cref="RedisScript"/>, which adds the part's counts and sets the part's ledger key in one atomic step, and does
/// nothing when that key is already set, so a batch sent again after a lost answer adds nothing twice. One connection
/// per node is kept between flushes. On a Cluster every key has the prefix's hash tag, so a batch lives in one slot:
/// <c>MOVED</c> is followed and its node remembered, <c>ASK</c> is followed for the one command, after <c>ASKING</c>.
/// </summary>
internal sealed class RedisStore : IEndpoint
{
    /// <summary>The most keys in one part: one script run, during which the server answers nobody else.</summary>
    public const int PartKeys = 1024;

    /// <summary>The most key bytes in one part (a part may hold one longer key alone): a bound on one command's size.</summary>
    public const int PartBytes = 256 << 10;

    private const int MaxRedirects = 5;

    private readonly RedisEndpoint _endpoint;
    private readonly RedisKeys _keys;
    private readonly TimeSpan _timeout;
    private readonly long _ledgerSeconds;
    private readonly Func<SslClientAuthenticationOptions, SslClientAuthenticationOptions>? _tls;
    private readonly Action<string> _warn;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly (string Host, int Port) _seed;
    private readonly Dictionary<(string Host, int Port), RedisConnection> _connections = [];

    // What CONFIG GET found on each node: the problem with its persistence (null: none), or no entry when refused.
    private readonly Dictionary<string, string?> _persistence = [];

    // The node that owns the keys' slot, as the last MOVED said; the configured node until then.
    private (string Host, int Port) _owner;
    private string? _saidPersistence;
    private bool _probing;

    /// <param name="warn">Takes a warning line (a node's persistence settings that exactly-once needs), once per change.</param>
    public RedisStore(RedisEndpoint endpoint, RedisKeys keys, TimeSpan timeout, TimeSpan ledgerRetention,
        Func<SslClientAuthenticationOptions, SslClientAuthenticationOptions>? tls, Action<string> warn)
    {
        _endpoint = endpoint;
        _keys = keys;
        _timeout = timeout;
        _ledgerSeconds = Math.Max(1, (long)ledgerRetention.TotalSeconds);
        _tls = tls;
        _warn = warn;
        _seed = _owner = (endpoint.Host, endpoint.Port);
    }

    /// <summary>
    /// Stores a batch's counts, counted on <paramref name="day"/> (UTC). The batch goes in parts of at most
    /// <see cref="PartKeys"/> keys and <see cref="PartBytes"/> bytes of keys, each with its own ledger key, in the
    /// order of <paramref name="entries"/>: the same entries make the same parts, so a resend finds the parts stored before.
    /// <paramref name="completing"/> is called before the last part's script is sent: from then on the whole batch may
    /// be stored, whether or not its answer comes.
    /// </summary>
    public async Task<FlushOutcome> StoreAsync(string batch, DateOnly day, KeyValuePair<byte[], long>[] entries, CancellationToken cancellation,
        Action? completing = null)
    {
        await _gate.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            byte[] dayKey = _keys.Day(day);
            List<Range> parts = Parts(entries);
            var command = new RespWriter();
            int skipped = 0;
            for (int part = 0; part < parts.Count; part++)
            {
                command.Clear();
                WriteScript(command, dayKey, _keys.Ledger(batch, part), entries.AsSpan(parts[part]));
                if (part == parts.Count - 1)
                {
                    completing?.Invoke();
                }

                RespReply reply = await RunScriptAsync(command.Written, cancellation).ConfigureAwait(false);
                if (reply.Kind == RespKind.Integer && reply.Integer == RedisScript.Stored)
                {
                    continue;
                }

                if (reply.Kind == RespKind.Integer && reply.Integer == RedisScript.AlreadyStored)
                {
                    skipped++;
                    continue;
                }

                string why = reply.Kind == RespKind.Array ? Refusal(reply, entries.AsSpan(parts[part]), dayKey)
                    : reply.IsError ? LogEscape.Text(reply.Text)
                    : "the script gave an answer it never gives";
                return FlushOutcome.Refused(why + (part == 0 ? "" : Invariant($" (the first {part} of {parts.Count} parts were stored; a resend skips them)")));
            }

            return FlushOutcome.Stored(skipped == 0 ? null : Invariant($"{skipped} of {parts.Count} parts were stored before and skipped"));
        }
        catch (Exception e) when (IsFailure(e))
        {
            return FlushOutcome.Unreachable(e.Message);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A flush's batch, under the UTC day its hits were counted on.</summary>
    public Task<FlushOutcome> SendAsync(Batch batch, Action? completing, CancellationToken cancellation) =>
        StoreAsync(batch.Id, batch.Day, batch.Entries, cancellation, completing);

    async Task<ProbeResult?> IEndpoint.ProbeAsync(CancellationToken cancellation)
    {
        string line = await ProbeAsync(cancellation).ConfigureAwait(false);
        return new ProbeResult(!line.StartsWith("endpoint: warning:", StringComparison.Ordinal), line);
    }

    /// <summary>
    /// The start's and <c>--check</c>'s look at the endpoint, as one line: connects, authenticates, selects the
    /// database, pings, reads the version and the persistence settings, finds the node of the keys' slot, checks the
    /// type of the totals hash and loads the script there. <c>endpoint: Redis 7.0.15, ready</c>, or
    /// <c>endpoint: warning: </c> and what is wrong. Never the password.
    /// </summary>
    public async Task<string> ProbeAsync(CancellationToken cancellation)
    {
        await _gate.WaitAsync(cancellation).ConfigureAwait(false);
        _probing = true;
        try
        {
            (RedisConnection? seed, _, RespReply refusal) = await NodeAsync(_seed, cancellation).ConfigureAwait(false);
            if (seed is null)
            {
                return Warning(refusal.Text);
            }

            RespReply pong = await seed.ExchangeAsync(Command("PING"), 1, cancellation).ConfigureAwait(false);
            if (!pong.IsSimple("PONG"u8))
            {
                return Warning("PING: " + pong.Text);
            }

            RespReply info = await seed.ExchangeAsync(Command("INFO", "server"), 1, cancellation).ConfigureAwait(false);
            string server = "Redis";
            if (info.Kind == RespKind.Bulk)
            {
                string text = info.Text;
                server += Field(text, "redis_version") is { } version ? " " + version : "";
                server += Field(text, "redis_mode") == "cluster" ? " Cluster" : "";
            }

            string totals = Encoding.UTF8.GetString(_keys.Totals);
            (RespReply type, RedisConnection? owner) = await ExecuteAsync(Command("TYPE", totals), cancellation).ConfigureAwait(false);
            if (owner is null || type.IsError)
            {
                return Warning(type.Text);
            }

            if (type.Text is not ("hash" or "none"))
            {
                return Warning($"{server}: {totals} is a {type.Text}, not a hash: every flush would be refused");
            }

            RespReply load = await owner.ExchangeAsync(LoadScript(), 1, cancellation).ConfigureAwait(false);
            if (load.IsError)
            {
                return Warning("SCRIPT LOAD: " + load.Text);
            }

            if (!_persistence.TryGetValue(owner.Address, out string? problem))
            {
                return $"endpoint: {server}, ready (persistence not checked: CONFIG GET was refused)";
            }

            _saidPersistence = problem;
            return problem is null ? $"endpoint: {server}, ready" : Warning($"{server}: {problem}");
        }
        catch (Exception e) when (IsFailure(e))
        {
            return Warning(e.Message);
        }
        finally
        {
            _probing = false;
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (RedisConnection connection in _connections.Values)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _connections.Clear();
    }

    /// <summary>Runs the script, loading it first where the node does not know it (a new node, a restart, SCRIPT FLUSH).</summary>
    private async Task<RespReply> RunScriptAsync(ReadOnlyMemory<byte> command, CancellationToken cancellation)
    {
        (RespReply reply, RedisConnection? node) = await ExecuteAsync(command, cancellation).ConfigureAwait(false);
        if (node is null || reply.ErrorCode != "NOSCRIPT")
        {
            return reply;
        }

        RespReply load = await node.ExchangeAsync(LoadScript(), 1, cancellation).ConfigureAwait(false);
        if (load.IsError)
        {
            return load;
        }

        return (await ExecuteAsync(command, cancellation).ConfigureAwait(false)).Reply;
    }

    /// <summary>
    /// Sends a command about the keys to the node that owns their slot, following redirects. Answers the reply and the
    /// node that gave it; a refusal to connect (AUTH, SELECT) comes back as an error reply without a node.
    /// </summary>
    private async Task<(RespReply Reply, RedisConnection? Node)> ExecuteAsync(ReadOnlyMemory<byte> command, CancellationToken cancellation)
    {
        (string Host, int Port) target = _owner;
        bool asking = false;
        bool retried = false;
        bool fellBack = false;
        int redirects = 0;
        while (true)
        {
            RedisConnection? node;
            bool fresh;
            RespReply refusal;
            try
            {
                (node, fresh, refusal) = await NodeAsync(target, cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (IsFailure(e) && target == _owner && target != _seed && !fellBack)
            {
                // The slot's last owner cannot be reached (a failover, a node taken out): the configured node's answer
                // names the new one. Once: a second failure is the flush's reason.
                _owner = target = _seed;
                fellBack = true;
                continue;
            }

            if (node is null)
            {
                return (refusal, null);
            }

            RespReply reply;
            try
            {
                reply = asking
                    ? await node.ExchangeAsync(Asking(command), 2, cancellation).ConfigureAwait(false)
                    : await node.ExchangeAsync(command, 1, cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (IsFailure(e))
            {
                _connections.Remove(target);
                await node.DisposeAsync().ConfigureAwait(false);
                // A kept connection that the server closed since (its idle timeout, a restart, CLIENT KILL) fails on
                // first use: the command goes once more on a new one. Only the script is sent twice this way, and its
                // ledger key makes a second run of a part that did run a no-op.
                if (fresh || retried || e is not IOException)
                {
                    throw;
                }

                retried = true;
                continue;
            }

            if (!TryRedirect(reply, target.Host, out bool ask, out (string Host, int Port) to))
            {
                return (reply, node);
            }

            if (++redirects > MaxRedirects)
            {
                return (RespReply.Error(Encoding.UTF8.GetBytes($"redirected more than {MaxRedirects} times for one command (last: {reply.Text})")), null);
            }

            if (!ask)
            {
                _owner = to;
            }

            target = to;
            asking = ask;
        }
    }

    /// <summary>
    /// The kept connection to a node, or a new one, authenticated, on the configured database, its persistence
    /// checked. A server's refusal (a wrong password, a database a Cluster does not have) is returned as an error.
    /// </summary>
    private async Task<(RedisConnection? Node, bool Fresh, RespReply Refusal)> NodeAsync((string Host, int Port) address, CancellationToken cancellation)
    {
        if (_connections.TryGetValue(address, out RedisConnection? kept))
        {
            if (!kept.Broken)
            {
                return (kept, false, default);
            }

            _connections.Remove(address);
        }

        RedisConnection node = await RedisConnection.OpenAsync(address.Host, address.Port, _endpoint.Tls, _tls, _timeout, cancellation)
            .ConfigureAwait(false);
        bool keep = false;
        try
        {
            if (_endpoint.Password is { } password)
            {
                var auth = new RespWriter();
                auth.Command(_endpoint.User is null ? 2 : 3).Argument("AUTH"u8);
                if (_endpoint.User is { } user)
                {
                    auth.Argument(user);
                }

                auth.Argument(password);
                RespReply reply = await node.ExchangeAsync(auth.Written, 1, cancellation).ConfigureAwait(false);
                if (reply.IsError)
                {
                    return (null, true, reply);
                }
            }

            if (_endpoint.Database != 0)
            {
                string database = _endpoint.Database.ToString(CultureInfo.InvariantCulture);
                RespReply reply = await node.ExchangeAsync(Command("SELECT", database), 1, cancellation).ConfigureAwait(false);
                if (reply.IsError)
                {
                    return (null, true, RespReply.Error(Encoding.UTF8.GetBytes($"SELECT {database}: {reply.Text}" +
                        (reply.Text.Contains("cluster", StringComparison.OrdinalIgnoreCase) ? " (a Redis Cluster has only database 0)" : ""))));
                }
            }

            RespReply check = await CheckPersistenceAsync(node, cancellation).ConfigureAwait(false);
            if (check.ErrorCode == "NOAUTH")
            {
                // No password configured for a server that wants one: the first command says so.
                return (null, true, check);
            }

            _connections[address] = node;
            keep = true;
            return (node, true, default);
        }
        finally
        {
            if (!keep)
            {
                await node.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Reads the settings exactly-once rests on, where CONFIG is allowed, and warns once per change of what is wrong.
    /// Answers CONFIG's refusal, if any.
    /// </summary>
    private async Task<RespReply> CheckPersistenceAsync(RedisConnection node, CancellationToken cancellation)
    {
        var values = new string?[RedisPersistence.Settings.Count];
        for (int i = 0; i < values.Length; i++)
        {
            RespReply reply = await node.ExchangeAsync(Command("CONFIG", "GET", RedisPersistence.Settings[i].Name), 1, cancellation).ConfigureAwait(false);
            if (reply.IsError)
            {
                // CONFIG refused to this user (NOPERM) or renamed away: the settings are unknown, and nothing is said.
                _persistence.Remove(node.Address);
                return reply;
            }

            // RESP2: a flat array of name, value; empty for a setting this server does not have.
            values[i] = reply.Items is [_, { Kind: RespKind.Bulk } value] ? value.Text : null;
        }

        string? problem = RedisPersistence.Problem(values);
        _persistence[node.Address] = problem;
        if (problem is not null && problem != _saidPersistence && !_probing)
        {
            _saidPersistence = problem;
            _warn($"endpoint: warning: {node.Address}: {problem}");
        }

        return default;
    }

    private void WriteScript(RespWriter command, byte[] day, byte[] ledger, ReadOnlySpan<KeyValuePair<byte[], long>> entries)
    {
        command.Command(7 + (2 * entries.Length))
            .Argument("EVALSHA"u8).Argument(RedisScript.Sha1Hex).Argument("3"u8)
            .Argument(_keys.Totals).Argument(day).Argument(ledger)
            .Argument(_ledgerSeconds);
        foreach ((byte[] key, long count) in entries)
        {
            command.Argument(key).Argument(count);
        }
    }

    /// <summary>Why the script wrote nothing, from its answer <c>{'WRONGTYPE', k, type}</c> or <c>{'NOTINTEGER', k, i}</c>.</summary>
    private string Refusal(RespReply reply, ReadOnlySpan<KeyValuePair<byte[], long>> entries, byte[] day)
    {
        if (reply.Items is [{ Kind: RespKind.Bulk } what, { Kind: RespKind.Integer } k, var detail] && k.Integer is 1 or 2)
        {
            string hash = LogEscape.Text(Encoding.UTF8.GetString(k.Integer == 1 ? _keys.Totals : day));
            long field = (detail.Integer - 2) / 2;
            switch (what.Text)
            {
                case "WRONGTYPE" when detail.Kind == RespKind.Bulk:
                    return $"WRONGTYPE {hash} is a {LogEscape.Text(detail.Text)}, not a hash: nothing was stored";
                case "NOTINTEGER" when detail.Kind == RespKind.Integer && (ulong)field < (ulong)entries.Length:
                    return $"the field {Quoting.Quote(Encoding.UTF8.GetString(entries[(int)field].Key))} of {hash} holds something other than a whole number below 10^18: nothing was stored";
            }
        }

        return "the script gave an answer it never gives";
    }

    /// <summary>The parts of a batch: consecutive runs of at most <see cref="PartKeys"/> keys and <see cref="PartBytes"/> key bytes.</summary>
    private static List<Range> Parts(KeyValuePair<byte[], long>[] entries)
    {
        var parts = new List<Range>((entries.Length / PartKeys) + 1);
        int start = 0;
        long bytes = 0;
        for (int i = 0; i < entries.Length; i++)
        {
            int length = entries[i].Key.Length;
            if (i > start && (i - start == PartKeys || bytes + length > PartBytes))
            {
                parts.Add(start..i);
                start = i;
                bytes = 0;
            }

            bytes += length;
        }

        if (start < entries.Length)
        {
            parts.Add(start..entries.Length);
        }

        return parts;
    }

    /// <summary>
    /// <c>MOVED &lt;slot&gt; &lt;host&gt;:&lt;port&gt;</c> or <c>ASK …</c> for the keys' slot. An empty host (or
    /// <c>?</c>, an endpoint the node does not know) means the host already connected to.
    /// </summary>
    private bool TryRedirect(RespReply reply, string current, out bool ask, out (string Host, int Port) to)
    {
        to = default;
        ask = reply.ErrorCode == "ASK";
        if (!ask && reply.ErrorCode != "MOVED")
        {
            return false;
        }

        string[] words = reply.Text.Split(' ');
        int colon = words.Length == 3 ? words[2].LastIndexOf(':') : -1;
        if (colon < 0
            || !int.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out int slot) || slot != _keys.Slot
            || !int.TryParse(words[2].AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is 0 or > 65535)
        {
            // Not about these keys' slot, or not readable: passed on as the refusal it is.
            return false;
        }

        string host = words[2][..colon].Trim('[', ']');
        to = (host is "" or "?" ? current : host, port);
        return true;
    }

    private static ReadOnlyMemory<byte> Asking(ReadOnlyMemory<byte> command)
    {
        ReadOnlySpan<byte> asking = "*1\r\n$6\r\nASKING\r\n"u8;
        byte[] both = new byte[asking.Length + command.Length];
        asking.CopyTo(both);
        command.Span.CopyTo(both.AsSpan(asking.Length));
        return both;
    }

    private static ReadOnlyMemory<byte> LoadScript() =>
        new RespWriter().Command(3).Argument("SCRIPT"u8).Argument("LOAD"u8).Argument(RedisScript.Source).Written;

    private static ReadOnlyMemory<byte> Command(params string[] words)
    {
        var command = new RespWriter().Command(words.Length);
        foreach (string word in words)
        {
            command.Argument(word);
        }

        return command.Written;
    }

    private static string? Field(string info, string name)
    {
        foreach (string line in info.Split('\n'))
        {
            if (line.StartsWith(name + ":", StringComparison.Ordinal))
            {
                return line[(name.Length + 1)..].TrimEnd('\r');
            }
        }

        return null;
    }

    private static string Warning(string text) => "endpoint: warning: " + LogEscape.Text(text);

    private static bool IsFailure(Exception e) =>
        e is IOException or SocketException or TimeoutException or AuthenticationException or InvalidDataException;
}
