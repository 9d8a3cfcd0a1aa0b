using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PixelPing.Tls;

/// <summary>
/// Reads PEM certificates and private keys with one readable reason per failure. Exception messages are not used:
/// the runtime's say which call failed inside the decoder, not what is wrong with the file.
/// </summary>
internal static class PemFile
{
    /// <summary>A certificate chain or key is a few KiB; a bigger file is the wrong path (a log, a binary, a bundle of everything).</summary>
    public const int MaxBytes = 1024 * 1024;

    private const string CertificateLabel = "CERTIFICATE";

    /// <summary>Every certificate in the file, in order (the first of a server's file is its own).</summary>
    public static bool TryReadCertificates(string path, out X509Certificate2Collection certificates, out string reason)
    {
        certificates = [];
        if (!TryReadText(path, out string text, out reason))
        {
            return false;
        }

        int index = 0;
        foreach ((string label, byte[] der) in Blocks(text))
        {
            if (label != CertificateLabel)
            {
                continue;
            }

            index++;
            try
            {
                certificates.Add(X509CertificateLoader.LoadCertificate(der));
            }
            catch (CryptographicException)
            {
                reason = $"certificate {index} in the file is not a valid X.509 certificate";
                return false;
            }
        }

        if (certificates.Count == 0)
        {
            reason = Malformed(text, CertificateLabel) ?? "no PEM certificate in the file (expected -----BEGIN CERTIFICATE-----)";
            return false;
        }

        return true;
    }

    /// <summary>
    /// The first private key in the file: PKCS#8 (<c>PRIVATE KEY</c>), PKCS#1 (<c>RSA PRIVATE KEY</c>) or SEC1
    /// (<c>EC PRIVATE KEY</c>). Other blocks, such as the <c>EC PARAMETERS</c> that <c>openssl ecparam</c> writes
    /// first, are skipped.
    /// </summary>
    public static bool TryReadPrivateKey(string path, out AsymmetricAlgorithm? key, out string reason)
    {
        key = null;
        if (!TryReadText(path, out string text, out reason))
        {
            return false;
        }

        // The server starts unattended, so there is nobody to type a pass phrase; say how to remove it.
        const string Decrypt = "the private key is encrypted; pixel-ping needs it unencrypted " +
            "(openssl pkey -in encrypted.pem -out key.pem, and keep that file readable only by the server's user)";
        if (text.Contains("Proc-Type: 4,ENCRYPTED", StringComparison.Ordinal))
        {
            // The legacy OpenSSL form: a PKCS#1 or SEC1 block with RFC 1421 headers, which PemEncoding does not parse.
            reason = Decrypt;
            return false;
        }

        foreach ((string label, byte[] der) in Blocks(text))
        {
            switch (label)
            {
                case "ENCRYPTED PRIVATE KEY":
                    reason = Decrypt;
                    return false;

                case "PRIVATE KEY":
                    // PKCS#8 names its algorithm inside; trying both importers reads it without an ASN.1 walk of our own.
                    key = TryImport(RSA.Create(), k => k.ImportPkcs8PrivateKey(der, out _)) ??
                        (AsymmetricAlgorithm?)TryImport(ECDsa.Create(), k => k.ImportPkcs8PrivateKey(der, out _));
                    reason = key is null ? "the PKCS#8 private key is not a valid RSA or EC key" : "";
                    return key is not null;

                case "RSA PRIVATE KEY":
                    key = TryImport(RSA.Create(), k => k.ImportRSAPrivateKey(der, out _));
                    reason = key is null ? "the RSA PRIVATE KEY block is not a valid PKCS#1 RSA key" : "";
                    return key is not null;

                case "EC PRIVATE KEY":
                    key = TryImport(ECDsa.Create(), k => k.ImportECPrivateKey(der, out _));
                    reason = key is null ? "the EC PRIVATE KEY block is not a valid SEC1 EC key" : "";
                    return key is not null;

                case "DSA PRIVATE KEY" or "OPENSSH PRIVATE KEY":
                    reason = $"a key in {label} form is not supported; use an RSA or EC key in PKCS#8, PKCS#1 or SEC1 PEM form";
                    return false;
            }
        }

        reason = Malformed(text, "PRIVATE KEY") ?? (text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
            ? "no PEM private key in the file, only certificates (is this the certificate file?)"
            : "no PEM private key in the file (expected -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)");
        return false;
    }

    /// <summary>Runs one importer on a fresh key: the key, or null (and the key disposed) when the bytes are not that kind of key.</summary>
    private static T? TryImport<T>(T key, Action<T> import)
        where T : AsymmetricAlgorithm
    {
        try
        {
            import(key);
            return key;
        }
        catch (CryptographicException)
        {
            key.Dispose();
            return null;
        }
    }

    /// <summary>The well-formed PEM blocks of the text, decoded; anything between them (comments, Bag Attributes) is skipped.</summary>
    private static List<(string Label, byte[] Der)> Blocks(string text)
    {
        var blocks = new List<(string, byte[])>();
        ReadOnlySpan<char> rest = text;
        while (PemEncoding.TryFind(rest, out PemFields fields))
        {
            byte[] der = new byte[fields.DecodedDataLength];
            if (Convert.TryFromBase64Chars(rest[fields.Base64Data], der, out int written))
            {
                blocks.Add((rest[fields.Label].ToString(), der[..written]));
            }

            rest = rest[fields.Location.End..];
        }

        return blocks;
    }

    // A BEGIN line whose block PemEncoding would not accept: bad base64, a missing END line, a mismatched label.
    private static string? Malformed(string text, string label) =>
        text.Contains("-----BEGIN " + label, StringComparison.Ordinal) || text.Contains(" " + label + "-----", StringComparison.Ordinal)
            ? $"the {label} block is not valid PEM (broken base64 or a missing END line)"
            : null;

    /// <summary>Reads the whole file as text, with the reason it could not be read.</summary>
    public static bool TryReadText(string path, out string text, out string reason)
    {
        text = "";
        switch (SmallFile.TryRead(path, MaxBytes, out byte[] bytes, out int length, out reason))
        {
            case SmallFileError.TooLarge:
                reason = "it is larger than 1 MiB, so it is not a certificate or key file";
                return false;
            case SmallFileError.Unreadable:
                return false;
        }

        if (length == 0)
        {
            reason = "the file is empty";
            return false;
        }

        // PEM is ASCII; Latin-1 maps every byte to one char, so a binary (DER) file reads without an exception
        // and is then reported as "no PEM ... in the file".
        text = System.Text.Encoding.Latin1.GetString(bytes, 0, length);
        return true;
    }
}
