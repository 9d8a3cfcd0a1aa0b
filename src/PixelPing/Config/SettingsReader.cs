using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using static System.FormattableString;
using PixelPing.Flushing.Postgres;
using PixelPing.Flushing.Redis;
using static PixelPing.Common.Quoting;

namespace PixelPing.Config;

/// <summary>
/// Reads the JSON config into <see cref="Settings"/> with <see cref="Utf8JsonReader"/>, so no reflection-based
/// serializer ends up in the binary. Every failure is one line naming the file, the key and the reason,
/// because the caller prints it as the only thing a failed start says.
/// </summary>
internal static class SettingsReader
{
    /// <summary>A config is a few hundred bytes; a bigger file is almost surely the wrong path (a log, a binary).</summary>
    public const int MaxFileBytes = 1024 * 1024;

    public static bool TryLoad(string path, out Settings settings, out string error, List<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!TryReadFile(path, out byte[] bytes, out int length, out string reason))
        {
            settings = Settings.Default with { ConfigPath = path };
            error = $"{DisplayPath(path)}: cannot read file: {reason}";
            return false;
        }

        return TryParse(bytes.AsSpan(0, length), path, out settings, out error, warnings, Environment.GetEnvironmentVariables());
    }

    /// <summary>
    /// The config file's text, then the <c>PIXELPING_*</c> variables of <paramref name="environment"/> over it (none
    /// when null), then the checks across keys.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, string path, out Settings settings, out string error, List<string> warnings,
        System.Collections.IDictionary? environment = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(warnings);
        settings = Settings.Default with { ConfigPath = path };
        string file = DisplayPath(path);

        if (utf8Json.Length > MaxFileBytes)
        {
            error = $"{file}: cannot read file: it is larger than 1 MiB ({utf8Json.Length.ToString(CultureInfo.InvariantCulture)} bytes)";
            return false;
        }

        // Editors on Windows save a UTF-8 BOM; Utf8JsonReader would reject it as an invalid start of a value.
        if (utf8Json.StartsWith("\uFEFF"u8))
        {
            utf8Json = utf8Json[3..];
        }

        if (utf8Json.TrimStart(" \t\r\n"u8).IsEmpty)
        {
            error = $"{file}: the file is empty; it must hold a JSON object such as {{\"endpoint\": \"https://example.org/hits\"}}";
            return false;
        }

        // Checked up front so that the reader (which validates only some strings) never meets a broken byte,
        // and the message can say where it is: a UTF-16 file fails here at line 1, byte 1.
        if (!Utf8.IsValid(utf8Json))
        {
            int at = FirstInvalidUtf8(utf8Json);
            error = $"{file}: not UTF-8 text: invalid byte 0x{utf8Json[at]:X2} at {Position(utf8Json, at)} (save the file as UTF-8)";
            return false;
        }

        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        });
        Settings draft = settings;
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        string? key = null; // the key whose value is being read, for a message about it
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                error = $"{file}: the top level must be a JSON object {{...}} (got {ConfigValue.Read(ref reader, readItems: false).Got})";
                return false;
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                key = null;
                key = reader.GetString()!;
                reader.Read();
                if (!seen.Add(key))
                {
                    warnings.Add($"{file}: duplicate key {Quote(key)}; the last value is used");
                }

                ConfigKey? known = ConfigKeys.Find(key);
                if (known is null)
                {
                    warnings.Add($"{file}: unknown key {Quote(key)} ignored{Hint(key)}");
                    reader.Skip();
                    continue;
                }

                ConfigValue value = ConfigValue.Read(ref reader, known.TakesList);
                if (!known.TryApply(ref draft, value, out string complaint, out string? note))
                {
                    error = $"{file}: {Quote(key)} {complaint}";
                    return false;
                }

                if (note is not null)
                {
                    warnings.Add($"{file}: {Quote(key)} {note}");
                }

                if (value.Kind == ConfigValueKind.Null)
                {
                    sources.Remove(key);
                }
                else
                {
                    sources[key] = file;
                }
            }

            // The root object has ended; this throws if anything but whitespace and comments follows it.
            reader.Read();
        }
        catch (JsonException) when (OnlyComments(utf8Json))
        {
            // The reader's own words for this speak of its API ("when isFinalBlock is true").
            error = $"{file}: the file holds only comments; it must hold a JSON object such as {{\"endpoint\": \"https://example.org/hits\"}}";
            return false;
        }
        catch (JsonException e)
        {
            long line = (e.LineNumber ?? 0) + 1;
            long column = (e.BytePositionInLine ?? 0) + 1;
            error = Invariant($"{file}: invalid JSON at line {line}, byte {column}: {CleanJsonReason(e.Message)}");
            return false;
        }
        catch (InvalidOperationException)
        {
            // The one way a string of valid UTF-8 fails to decode: a \u escape of half a surrogate pair ("\ud800"
            // alone), which no character is. The reader stands on that string, a key or a value.
            string where = key is null ? "a key name" : $"the value of {Quote(key)}";
            error = $"{file}: invalid JSON at {Position(utf8Json, (int)reader.TokenStartIndex)}: {where}: {LoneSurrogate}";
            return false;
        }

        if (environment is not null && !EnvironmentOverrides.TryApply(ref draft, sources, environment, warnings, out error))
        {
            return false;
        }

        if (!TryFinish(ref draft, sources, file, warnings, out error))
        {
            return false;
        }

        settings = draft with { Sources = sources };
        return true;
    }

    /// <summary>Checks that involve more than one key; a key that has no effect without another is dropped with a warning.</summary>
    private static bool TryFinish(ref Settings settings, Dictionary<string, string> sources, string file, List<string> warnings, out string error)
    {
        error = "";
        if ((settings.SslKey is null) != (settings.SslCert is null))
        {
            string set = settings.SslKey is null ? "sslcert" : "sslkey";
            error = $"{file}: \"sslkey\" and \"sslcert\" must be set together (only \"{set}\" is set)";
            return false;
        }

        if (settings.Status is { } status && status.Port != 0 && status.Port == settings.Port && SharesPixelAddress(settings.Host, status.Address))
        {
            // The status bind would fail on the pixel port's own socket ("port in use"); say what is wrong instead.
            error = $"{file}: \"status\" {status} is the pixel port's own address (\"host\" and \"port\"); give the status listener a port of its own";
            return false;
        }

        if (settings.Spool is not null && settings.Endpoint is null)
        {
            // Without an endpoint nothing is ever undelivered: the counts are only logged.
            warnings.Add($"{file}: \"spool\" is ignored without \"endpoint\"");
            settings = settings with { Spool = null };
            sources.Remove("spool");
        }

        if (settings.SslCa is not null && settings.SslKey is null)
        {
            warnings.Add($"{file}: \"sslca\" is ignored without \"sslkey\" and \"sslcert\"");
            settings = settings with { SslCa = null };
            sources.Remove("sslca");
        }

        EndpointAddress? endpoint = settings.Endpoint;
        if (settings.Secret is not null && endpoint is { Kind: EndpointKind.Http, Uri: { } url } && url.Scheme == Uri.UriSchemeHttp && !EndpointText.IsLoopback(url))
        {
            warnings.Add($"{file}: \"secret\" is sent to a plain http:// \"endpoint\" on another machine: the secret and the signed body travel in clear (use https://)");
        }

        if (settings.Secret is not null && endpoint is { IsDatabase: true })
        {
            // Pixel Ping writes to the database itself: there is no body to sign and no receiver to check it.
            warnings.Add($"{file}: \"secret\" is ignored with a database \"endpoint\": nothing is signed (the database's own password and TLS protect the counts)");
            settings = settings with { Secret = null };
            sources.Remove("secret");
        }

        if (settings.EndpointCa is not null && endpoint?.UsesEndpointCa != true)
        {
            warnings.Add(endpoint?.Kind == EndpointKind.Postgres
                ? $"{file}: \"endpointca\" is ignored with a PostgreSQL \"endpoint\": name the CA file in the URI (sslrootcert=/path/ca.pem)"
                : $"{file}: \"endpointca\" is ignored without an https:// or rediss:// \"endpoint\"");
            settings = settings with { EndpointCa = null };
            sources.Remove("endpointca");
        }

        // The database keys: each has no effect where its endpoint does not use it.
        foreach ((string key, bool used) in new[]
        {
            ("schema", endpoint?.Kind == EndpointKind.Postgres),
            ("prefix", endpoint?.IsDatabase == true),
            ("ledgerdays", endpoint?.IsDatabase == true),
        })
        {
            if (!used && sources.Remove(key))
            {
                warnings.Add($"{file}: {Quote(key)} is ignored without a {(key == "schema" ? "postgresql://" : "postgresql:// or redis://")} \"endpoint\"");
                settings = ConfigKeys.Find(key)!.WithDefault(settings);
            }
        }

        if (endpoint?.Kind == EndpointKind.Postgres
            && !PostgresTables.TryCreate(settings.Schema ?? PostgresTables.DefaultSchema, settings.Prefix ?? PostgresTables.DefaultPrefix, out _, out string tables))
        {
            error = $"{file}: {Quote(tables.StartsWith("the schema", StringComparison.Ordinal) ? "schema" : "prefix")}: {tables}";
            return false;
        }

        if (endpoint?.Kind == EndpointKind.Redis && !RedisKeys.TryCreate(settings.Prefix ?? RedisKeys.DefaultPrefix, out _, out string keys))
        {
            error = $"{file}: \"prefix\": {keys}";
            return false;
        }

        return true;
    }

    /// <summary>
    /// Whether the pixel listener on <paramref name="host"/> covers <paramref name="status"/> on the same port: no host
    /// or <c>[::]</c> (dual-mode, IPv4 too) covers every address, <c>0.0.0.0</c> every IPv4 one. A host name is left to
    /// the bind, which fails for the second of two listeners on one address and port.
    /// </summary>
    private static bool SharesPixelAddress(string? host, IPAddress status)
    {
        if (host is null)
        {
            return true;
        }

        if (!IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? pixel))
        {
            return false;
        }

        return pixel.Equals(status) || pixel.Equals(IPAddress.IPv6Any) || status.Equals(IPAddress.IPv6Any)
            || (pixel.Equals(IPAddress.Any) && status.AddressFamily == AddressFamily.InterNetwork)
            || (status.Equals(IPAddress.Any) && pixel.AddressFamily == AddressFamily.InterNetwork);
    }

    private static string Hint(string key)
    {
        foreach (ConfigKey known in ConfigKeys.All)
        {
            if (string.Equals(known.Name, key, StringComparison.OrdinalIgnoreCase))
            {
                return $" (keys are lower-case: did you mean {Quote(known.Name)}?)";
            }
        }

        return "";
    }

    /// <summary>The path as the user wrote it, unless it holds a control character that would break the one line.</summary>
    private static string DisplayPath(string path)
    {
        foreach (char c in path)
        {
            if (char.IsControl(c))
            {
                return Quote(path);
            }
        }

        return path;
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    /// <summary>Why a JSON string holding half of a UTF-16 surrogate pair cannot be read.</summary>
    private const string LoneSurrogate =
        "a \\u escape is half of a UTF-16 surrogate pair (\\ud800 to \\udfff) without its other half; " +
        "write the character itself, or both halves";

    /// <summary>
    /// Makes a <see cref="JsonException"/> message fit after our own "line L, byte B": one line, without the reader's
    /// zero-based position suffix.
    /// </summary>
    internal static string CleanJsonReason(string message)
    {
        int suffix = message.IndexOf("LineNumber:", StringComparison.Ordinal);
        string reason = OneLine(suffix >= 0 ? message[..suffix] : message).Trim().TrimEnd(',');
        return reason.Length == 0 ? "syntax error" : reason;
    }

    private static bool OnlyComments(ReadOnlySpan<byte> utf8Json)
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Allow });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.Comment)
                {
                    return false;
                }
            }

            return true;
        }
        catch (JsonException)
        {
            // The end of the file after comments, or something after them that is not JSON.
            return reader.TokenType == JsonTokenType.Comment && utf8Json[(int)reader.BytesConsumed..].TrimStart(" \t\r\n"u8).IsEmpty;
        }
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        int i = 0;
        while (i < bytes.Length)
        {
            if (System.Buffers.OperationStatus.Done != Rune.DecodeFromUtf8(bytes[i..], out _, out int consumed))
            {
                return i;
            }

            i += consumed;
        }

        return bytes.Length - 1;
    }

    private static string Position(ReadOnlySpan<byte> bytes, int index)
    {
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < index; i++)
        {
            if (bytes[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return Invariant($"line {line}, byte {index - lineStart + 1}");
    }

    private static bool TryReadFile(string path, out byte[] bytes, out int length, out string reason) =>
        SmallFile.TryRead(path, MaxFileBytes, out bytes, out length, out reason) == SmallFileError.None;
}
