using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

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

    // Keys that are read and type-checked but do nothing yet. The feature that implements one removes it here.
    private static readonly HashSet<string> s_notSupportedYet = new(StringComparer.Ordinal);

    // Every key the reader understands, for the "did you mean" hint on a key that differs only in case.
    private static readonly string[] s_keys =
    [
        "port", "host", "interval", "endpoint", "secret", "discard", "sslkey", "sslcert", "sslca",
        "timeout", "maxkeys", "maxkeylength", "maxconnections", "spool", "endpointca", "log",
        "maxrequestline", "maxheaderbytes", "maxheadercount", "maxbodybytes",
        "headertimeout", "idletimeout", "shutdowntimeout",
    ];

    private const int MaxQuoted = 60;

    internal static IReadOnlyList<string> Keys => s_keys;

    public static bool TryLoad(string path, out Settings settings, out string error, List<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!TryReadFile(path, out byte[] bytes, out int length, out string reason))
        {
            settings = new Settings { ConfigPath = path };
            error = $"{DisplayPath(path)}: cannot read file: {reason}";
            return false;
        }

        return TryParse(bytes.AsSpan(0, length), path, out settings, out error, warnings);
    }

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, string path, out Settings settings, out string error, List<string> warnings)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(warnings);
        settings = new Settings { ConfigPath = path };
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
        var draft = new Draft(settings);
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                error = $"{file}: the top level must be a JSON object {{...}} (got {Got(ref reader)})";
                return false;
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string key = reader.GetString()!;
                reader.Read();
                if (!seen.Add(key))
                {
                    warnings.Add($"{file}: duplicate key {Quote(key)}; the last value is used");
                }

                if (!ReadKey(ref reader, key, file, draft, warnings, out error))
                {
                    return false;
                }
            }

            // The root object has ended; this throws if anything but whitespace and comments follows it.
            reader.Read();
        }
        catch (JsonException e)
        {
            long line = (e.LineNumber ?? 0) + 1;
            long column = (e.BytePositionInLine ?? 0) + 1;
            error = Invariant($"{file}: invalid JSON at line {line}, byte {column}: {CleanJsonReason(e.Message)}");
            return false;
        }
        catch (InvalidOperationException e)
        {
            // Not expected after the UTF-8 check; kept so no input can make a start print a stack trace.
            error = $"{file}: invalid JSON: {OneLine(e.Message)}";
            return false;
        }

        if (!draft.TryFinish(file, warnings, out settings, out error))
        {
            settings = new Settings { ConfigPath = path };
            return false;
        }

        return true;
    }

    private static bool ReadKey(ref Utf8JsonReader reader, string key, string file, Draft draft, List<string> warnings, out string error)
    {
        error = "";
        Settings defaults = draft.Defaults;
        switch (key)
        {
            case "port":
                if (!TryPort(ref reader, out int? port))
                {
                    return Fail(ref reader, file, key, "a number or numeric string from 0 to 65535", out error);
                }

                draft.Port = port ?? defaults.Port;
                return true;

            case "host":
                if (!TryString(ref reader, out string? host) || (host is not null && !IsHostLike(host)))
                {
                    return Fail(ref reader, file, key, "a non-empty address or host name", out error);
                }

                draft.Host = host;
                return true;

            case "interval":
                return ReadSeconds(ref reader, file, key, 86400, defaults.Interval, out draft.Interval, out error);

            case "endpoint":
                return ReadEndpoint(ref reader, file, draft, warnings, out error);

            case "secret":
                if (!TryString(ref reader, out string? secret))
                {
                    return Fail(ref reader, file, key, "a string", out error);
                }

                // As in the original (`if config.secret`), an empty secret means no secret is sent.
                draft.Secret = string.IsNullOrEmpty(secret) ? null : secret;
                return true;

            case "discard":
                return ReadBool(ref reader, file, key, defaults.Discard, out draft.Discard, out error);

            case "log":
                return ReadBool(ref reader, file, key, defaults.Log, out draft.Log, out error);

            case "sslkey":
                return ReadPath(ref reader, file, key, out draft.SslKey, out error);

            case "sslcert":
                return ReadPath(ref reader, file, key, out draft.SslCert, out error);

            case "sslca":
                return ReadPath(ref reader, file, key, out draft.SslCa, out error);

            case "spool":
                if (!ReadPath(ref reader, file, key, out string? spool, out error))
                {
                    return false;
                }

                draft.Spool = Supported(key, spool, file, warnings) ? spool : null;
                return true;

            case "endpointca":
                if (!ReadPath(ref reader, file, key, out string? endpointCa, out error))
                {
                    return false;
                }

                draft.EndpointCa = Supported(key, endpointCa, file, warnings) ? endpointCa : null;
                return true;

            case "timeout":
                return ReadSeconds(ref reader, file, key, 3600, defaults.Timeout, out draft.Timeout, out error);

            case "maxkeys":
                return ReadInteger(ref reader, file, key, 1, int.MaxValue, defaults.MaxKeys, out draft.MaxKeys, out error);

            case "maxkeylength":
                return ReadInteger(ref reader, file, key, 1, 65536, defaults.MaxKeyLength, out draft.MaxKeyLength, out error);

            case "maxconnections":
                return ReadInteger(ref reader, file, key, 1, int.MaxValue, defaults.MaxConnections, out draft.MaxConnections, out error);

            // Upper bounds on buffer sizes: each open connection may hold one, so a typo must not turn
            // maxconnections x buffer into gigabytes.
            case "maxrequestline":
                return ReadInteger(ref reader, file, key, 64, 1048576, defaults.MaxRequestLine, out draft.MaxRequestLine, out error);

            case "maxheaderbytes":
                return ReadInteger(ref reader, file, key, 256, 1048576, defaults.MaxHeaderBytes, out draft.MaxHeaderBytes, out error);

            case "maxheadercount":
                return ReadInteger(ref reader, file, key, 1, 10000, defaults.MaxHeaderCount, out draft.MaxHeaderCount, out error);

            case "maxbodybytes":
                return ReadInteger(ref reader, file, key, 0, int.MaxValue, defaults.MaxBodyBytes, out draft.MaxBodyBytes, out error);

            case "headertimeout":
                return ReadSeconds(ref reader, file, key, 3600, defaults.HeaderTimeout, out draft.HeaderTimeout, out error);

            case "idletimeout":
                return ReadSeconds(ref reader, file, key, 86400, defaults.IdleTimeout, out draft.IdleTimeout, out error);

            case "shutdowntimeout":
                return ReadSeconds(ref reader, file, key, 3600, defaults.ShutdownTimeout, out draft.ShutdownTimeout, out error);

            default:
                warnings.Add($"{file}: unknown key {Quote(key)} ignored{Hint(key)}");
                reader.Skip();
                return true;
        }
    }

    private static bool ReadEndpoint(ref Utf8JsonReader reader, string file, Draft draft, List<string> warnings, out string error)
    {
        const string key = "endpoint";
        error = "";
        if (!TryString(ref reader, out string? text))
        {
            return Fail(ref reader, file, key, "an http:// or https:// URL", out error);
        }

        if (text is null)
        {
            draft.Endpoint = null;
            return true;
        }

        if (text.Length == 0)
        {
            // The original treated "" as no endpoint (`if config.endpoint`); keep that, but say so.
            warnings.Add($"{file}: \"endpoint\" is empty; hits will only be logged");
            draft.Endpoint = null;
            return true;
        }

        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || uri.Host.Length == 0)
        {
            return Fail(ref reader, file, key, "an absolute http:// or https:// URL with a host", out error);
        }

        if (uri.UserInfo.Length > 0)
        {
            // Credentials in the URL would be silently dropped by the flush request; refuse rather than
            // leave the receiver rejecting every batch. The value is not echoed: it holds a password.
            error = $"{file}: \"endpoint\" must not contain a user name or password (use \"secret\")";
            return false;
        }

        draft.Endpoint = uri;
        return true;
    }

    private static bool Supported(string key, string? value, string file, List<string> warnings)
    {
        if (value is null || !s_notSupportedYet.Contains(key))
        {
            return true;
        }

        warnings.Add($"{file}: {Quote(key)} is not supported yet and is ignored");
        return false;
    }

    private static bool ReadBool(ref Utf8JsonReader reader, string file, string key, bool fallback, out bool value, out string error)
    {
        error = "";
        value = fallback;
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                value = true;
                return true;
            case JsonTokenType.False:
                value = false;
                return true;
            case JsonTokenType.Null:
                return true;
            default:
                return Fail(ref reader, file, key, "true or false", out error);
        }
    }

    private static bool ReadPath(ref Utf8JsonReader reader, string file, string key, out string? value, out string error)
    {
        error = "";
        if (!TryString(ref reader, out value) || (value is not null && value.Length == 0))
        {
            value = null;
            return Fail(ref reader, file, key, "a non-empty file path", out error);
        }

        return true;
    }

    private static bool ReadInteger(ref Utf8JsonReader reader, string file, string key, int min, int max, int fallback, out int value, out string error)
    {
        error = "";
        value = fallback;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out double number)
            && double.IsFinite(number) && Math.Floor(number) == number && number >= min && number <= max)
        {
            value = (int)number;
            return true;
        }

        return Fail(ref reader, file, key, Invariant($"an integer from {min} to {max}"), out error);
    }

    private static bool ReadSeconds(ref Utf8JsonReader reader, string file, string key, int maxSeconds, TimeSpan fallback, out TimeSpan value, out string error)
    {
        error = "";
        value = fallback;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        // At least a millisecond: below that a timer degenerates into the original's flush-every-millisecond bug.
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out double seconds)
            && double.IsFinite(seconds) && seconds >= 0.001 && seconds <= maxSeconds)
        {
            value = TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));
            return true;
        }

        return Fail(ref reader, file, key, Invariant($"a number of seconds from 0.001 to {maxSeconds}"), out error);
    }

    private static bool TryPort(ref Utf8JsonReader reader, out int? port)
    {
        port = null;
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return true;

            case JsonTokenType.Number:
                if (reader.TryGetDouble(out double number) && Math.Floor(number) == number && number >= 0 && number <= 65535)
                {
                    port = (int)number;
                    return true;
                }

                return false;

            case JsonTokenType.String:
                // Node's listen() took "8080" as 8080; accept plain digits only, so "80abc" is an error, not port 80.
                ReadOnlySpan<byte> digits = reader.ValueSpan;
                if (reader.ValueIsEscaped || digits.IsEmpty || digits.Length > 5)
                {
                    return false;
                }

                int value = 0;
                foreach (byte b in digits)
                {
                    if ((uint)(b - '0') > 9)
                    {
                        return false;
                    }

                    value = (value * 10) + (b - '0');
                }

                if (value > 65535)
                {
                    return false;
                }

                port = value;
                return true;

            default:
                return false;
        }
    }

    private static bool TryString(ref Utf8JsonReader reader, out string? value)
    {
        value = null;
        if (reader.TokenType == JsonTokenType.Null)
        {
            return true;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            return false;
        }

        value = reader.GetString();
        return true;
    }

    private static bool IsHostLike(string host)
    {
        if (host.Length == 0)
        {
            return false;
        }

        foreach (char c in host)
        {
            if (c <= ' ' || c == '\u007F')
            {
                return false;
            }
        }

        return true;
    }

    private static bool Fail(ref Utf8JsonReader reader, string file, string key, string what, out string error)
    {
        error = $"{file}: {Quote(key)} must be {what} (got {Got(ref reader)})";
        return false;
    }

    private static string Got(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.String => Quote(reader.GetString() ?? ""),
        JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        _ => reader.TokenType.ToString(),
    };

    private static string Hint(string key)
    {
        foreach (string known in s_keys)
        {
            if (string.Equals(known, key, StringComparison.OrdinalIgnoreCase))
            {
                return $" (keys are lower-case: did you mean {Quote(known)}?)";
            }
        }

        return "";
    }

    /// <summary>A value quoted for a one-line message: JSON escapes for quotes and control characters, cut when long.</summary>
    internal static string Quote(string value)
    {
        var text = new StringBuilder(Math.Min(value.Length, MaxQuoted) + 8);
        text.Append('"');
        int count = 0;
        foreach (char c in value)
        {
            if (count++ == MaxQuoted)
            {
                text.Append("...");
                break;
            }

            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                default:
                    if (char.IsControl(c) || c == '\u2028' || c == '\u2029')
                    {
                        text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        text.Append(c);
                    }

                    break;
            }
        }

        return text.Append('"').ToString();
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

    /// <summary>
    /// Makes a <see cref="JsonException"/> message fit after our own "line L, byte B": drops the reader's
    /// zero-based position suffix, and, in the trimmed binary (UseSystemResourceKeys), turns the bare
    /// resource key it gets instead of a sentence ("ExpectedStartOfValueNotFound, '}'") into words.
    /// </summary>
    internal static string CleanJsonReason(string message)
    {
        int suffix = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (suffix < 0)
        {
            suffix = message.IndexOf("LineNumber:", StringComparison.Ordinal);
        }

        string reason = (suffix >= 0 ? message[..suffix] : message).Trim().TrimEnd(',');
        int end = reason.IndexOf(',', StringComparison.Ordinal);
        string head = end < 0 ? reason : reason[..end];
        string? known = head switch
        {
            // The two keys whose words alone would not tell a user what is wrong.
            "ZeroDepthAtEnd" => "unexpected end of file: an object or array is not closed",
            "ExpectedJsonTokens" => "no JSON value in the file",
            _ => null,
        };
        if (known is not null)
        {
            reason = known;
        }
        else if (head.Length > 1 && char.IsAsciiLetterUpper(head[0]) && IsAsciiLetters(head))
        {
            var words = new StringBuilder(reason.Length + 8);
            words.Append(head[0]);
            for (int i = 1; i < head.Length; i++)
            {
                if (char.IsAsciiLetterUpper(head[i]))
                {
                    words.Append(' ').Append(char.ToLowerInvariant(head[i]));
                }
                else
                {
                    words.Append(head[i]);
                }
            }

            reason = words.Append(reason.AsSpan(head.Length)).ToString();
        }

        reason = OneLine(reason);
        return reason.Length == 0 ? "syntax error" : reason;
    }

    private static bool IsAsciiLetters(string text)
    {
        foreach (char c in text)
        {
            if (!char.IsAsciiLetter(c))
            {
                return false;
            }
        }

        return true;
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

    private static string Invariant(FormattableString value) => FormattableString.Invariant(value);

    /// <summary>Values as read so far, starting from the defaults in <see cref="Settings"/>.</summary>
    private sealed class Draft
    {
        public readonly Settings Defaults;
        public int Port;
        public string? Host;
        public TimeSpan Interval;
        public Uri? Endpoint;
        public string? Secret;
        public bool Discard;
        public string? SslKey;
        public string? SslCert;
        public string? SslCa;
        public TimeSpan Timeout;
        public int MaxKeys;
        public int MaxKeyLength;
        public int MaxConnections;
        public string? Spool;
        public string? EndpointCa;
        public bool Log;
        public int MaxRequestLine;
        public int MaxHeaderBytes;
        public int MaxHeaderCount;
        public int MaxBodyBytes;
        public TimeSpan HeaderTimeout;
        public TimeSpan IdleTimeout;
        public TimeSpan ShutdownTimeout;

        public Draft(Settings defaults)
        {
            Defaults = defaults;
            Port = defaults.Port;
            Interval = defaults.Interval;
            Discard = defaults.Discard;
            Timeout = defaults.Timeout;
            MaxKeys = defaults.MaxKeys;
            MaxKeyLength = defaults.MaxKeyLength;
            MaxConnections = defaults.MaxConnections;
            Log = defaults.Log;
            MaxRequestLine = defaults.MaxRequestLine;
            MaxHeaderBytes = defaults.MaxHeaderBytes;
            MaxHeaderCount = defaults.MaxHeaderCount;
            MaxBodyBytes = defaults.MaxBodyBytes;
            HeaderTimeout = defaults.HeaderTimeout;
            IdleTimeout = defaults.IdleTimeout;
            ShutdownTimeout = defaults.ShutdownTimeout;
        }

        /// <summary>Checks that involve more than one key, then freezes the values.</summary>
        public bool TryFinish(string file, List<string> warnings, out Settings settings, out string error)
        {
            error = "";
            settings = Defaults;
            if ((SslKey is null) != (SslCert is null))
            {
                string set = SslKey is null ? "sslcert" : "sslkey";
                error = $"{file}: \"sslkey\" and \"sslcert\" must be set together (only \"{set}\" is set)";
                return false;
            }

            string? spool = Spool;
            if (spool is not null && Endpoint is null)
            {
                // Without an endpoint nothing is ever undelivered: the counts are only logged.
                warnings.Add($"{file}: \"spool\" is ignored without \"endpoint\"");
                spool = null;
            }

            string? sslCa = SslCa;
            if (sslCa is not null && SslKey is null)
            {
                warnings.Add($"{file}: \"sslca\" is ignored without \"sslkey\" and \"sslcert\"");
                sslCa = null;
            }

            string? endpointCa = EndpointCa;
            if (endpointCa is not null && Endpoint?.Scheme != Uri.UriSchemeHttps)
            {
                warnings.Add($"{file}: \"endpointca\" is ignored without an https:// \"endpoint\"");
                endpointCa = null;
            }

            settings = new Settings
            {
                ConfigPath = Defaults.ConfigPath,
                Port = Port,
                Host = Host,
                Interval = Interval,
                Endpoint = Endpoint,
                Secret = Secret,
                Discard = Discard,
                SslKey = SslKey,
                SslCert = SslCert,
                SslCa = sslCa,
                Timeout = Timeout,
                MaxKeys = MaxKeys,
                MaxKeyLength = MaxKeyLength,
                MaxConnections = MaxConnections,
                Spool = spool,
                EndpointCa = endpointCa,
                Log = Log,
                MaxRequestLine = MaxRequestLine,
                MaxHeaderBytes = MaxHeaderBytes,
                MaxHeaderCount = MaxHeaderCount,
                MaxBodyBytes = MaxBodyBytes,
                HeaderTimeout = HeaderTimeout,
                IdleTimeout = IdleTimeout,
                ShutdownTimeout = ShutdownTimeout,
            };
            return true;
        }
    }
}
