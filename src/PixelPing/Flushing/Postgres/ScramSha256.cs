using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PixelPing.Flushing.Postgres;

/// <summary>
/// The client side of SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), and of SCRAM-SHA-256-PLUS when channel binding
/// data is given: client-first, then client-final with the proof, then a check of the server's signature, which proves
/// that the server knows the password's verifier and is not someone who merely accepted the connection. PostgreSQL
/// takes the user name from the startup message and ignores the one here, so it sends an empty <c>n=</c>.
/// </summary>
internal sealed class ScramSha256
{
    // PostgreSQL's default is 4096; a server asking for far more would only make the client burn CPU.
    private const int MaxIterations = 10_000_000;

    private readonly byte[] _password;
    private readonly string _gs2Header;
    private readonly byte[]? _bindingData;
    private readonly string _clientNonce;
    private readonly string _clientFirstBare;
    private byte[]? _expectedServerSignature;

    /// <param name="password">The password; SASLprep (RFC 4013) is the caller's: it passes ASCII only.</param>
    /// <param name="bindingData">tls-server-end-point data for -PLUS; null for plain SCRAM-SHA-256.</param>
    /// <param name="couldBind">Without -PLUS: true when the client could bind but the server offered no -PLUS ("y" in RFC 5802 §6).</param>
    /// <param name="clientNonce">Printable ASCII without commas; random in production.</param>
    public ScramSha256(string user, string password, byte[]? bindingData, bool couldBind, string clientNonce)
    {
        _password = Encoding.UTF8.GetBytes(password);
        _bindingData = bindingData;
        _gs2Header = bindingData is not null ? "p=tls-server-end-point,," : couldBind ? "y,," : "n,,";
        _clientNonce = clientNonce;
        _clientFirstBare = "n=" + user.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal) + ",r=" + clientNonce;
    }

    public string Mechanism => _bindingData is not null ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";

    /// <summary>A fresh nonce: 18 random bytes in base64, so printable and without commas.</summary>
    public static string NewNonce() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));

    public byte[] ClientFirst() => Encoding.ASCII.GetBytes(_gs2Header + _clientFirstBare);

    /// <summary>The client-final message for the server-first one; false with the reason when the server's is not valid.</summary>
    public bool TryClientFinal(ReadOnlySpan<byte> serverFirstBytes, out byte[] clientFinal, out string error)
    {
        clientFinal = [];
        string serverFirst = Encoding.UTF8.GetString(serverFirstBytes);
        string? nonce = null;
        string? saltText = null;
        string? iterationText = null;
        foreach (string attribute in serverFirst.Split(','))
        {
            if (attribute.Length < 2 || attribute[1] != '=')
            {
                continue;
            }

            switch (attribute[0])
            {
                case 'm':
                    error = "the server's SCRAM message asks for an extension (m=) that no SCRAM client knows";
                    return false;
                case 'r': nonce = attribute[2..]; break;
                case 's': saltText = attribute[2..]; break;
                case 'i': iterationText = attribute[2..]; break;
            }
        }

        byte[] salt = [];
        if (nonce is null || saltText is null || iterationText is null)
        {
            error = "the server's first SCRAM message lacks its nonce, salt or iteration count";
            return false;
        }

        if (!nonce.StartsWith(_clientNonce, StringComparison.Ordinal) || nonce.Length == _clientNonce.Length)
        {
            // RFC 5802 §5.1: the server's nonce extends ours; anything else is a replay or a confused server.
            error = "the server's SCRAM nonce does not extend the client's";
            return false;
        }

        try
        {
            salt = Convert.FromBase64String(saltText);
        }
        catch (FormatException)
        {
            error = "the server's SCRAM salt is not base64";
            return false;
        }

        if (!int.TryParse(iterationText, NumberStyles.None, CultureInfo.InvariantCulture, out int iterations) || iterations is < 1 or > MaxIterations)
        {
            error = $"the server's SCRAM iteration count is not a number from 1 to {MaxIterations}";
            return false;
        }

        byte[] cbind = _bindingData is null ? Encoding.ASCII.GetBytes(_gs2Header) : [.. Encoding.ASCII.GetBytes(_gs2Header), .. _bindingData];
        string withoutProof = "c=" + Convert.ToBase64String(cbind) + ",r=" + nonce;
        byte[] authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + serverFirst + "," + withoutProof);

        byte[] salted = Rfc2898DeriveBytes.Pbkdf2(_password, salt, iterations, HashAlgorithmName.SHA256, 32);
        byte[] clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        byte[] storedKey = SHA256.HashData(clientKey);
        byte[] clientSignature = HMACSHA256.HashData(storedKey, authMessage);
        byte[] proof = new byte[clientKey.Length];
        for (int i = 0; i < proof.Length; i++)
        {
            proof[i] = (byte)(clientKey[i] ^ clientSignature[i]);
        }

        byte[] serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        _expectedServerSignature = HMACSHA256.HashData(serverKey, authMessage);
        clientFinal = Encoding.ASCII.GetBytes(withoutProof + ",p=" + Convert.ToBase64String(proof));
        error = "";
        return true;
    }

    /// <summary>True when the server-final message carries the signature only a holder of the verifier can make.</summary>
    public bool VerifyServerFinal(ReadOnlySpan<byte> serverFinalBytes, out string error)
    {
        string serverFinal = Encoding.UTF8.GetString(serverFinalBytes);
        if (serverFinal.StartsWith("e=", StringComparison.Ordinal))
        {
            error = "the server ended SCRAM with the error " + LogEscape.Text(serverFinal[2..]);
            return false;
        }

        string signature = serverFinal.Split(',')[0];
        byte[]? received = null;
        if (signature.StartsWith("v=", StringComparison.Ordinal))
        {
            try
            {
                received = Convert.FromBase64String(signature[2..]);
            }
            catch (FormatException)
            {
            }
        }

        if (_expectedServerSignature is null || received is null || !CryptographicOperations.FixedTimeEquals(received, _expectedServerSignature))
        {
            error = "the server's SCRAM signature is wrong: it does not know this user's password verifier, so it is not the database it claims to be";
            return false;
        }

        error = "";
        return true;
    }
}
