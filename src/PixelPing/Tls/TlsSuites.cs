using System.Runtime.InteropServices;

namespace PixelPing.Tls;

/// <summary>
/// TLS 1.2 with forward secrecy and AEAD only (ECDHE with AES-GCM or ChaCha20-Poly1305), as the widely used
/// "intermediate" server profile has it: the CBC suites OpenSSL would also offer are open to padding-oracle timing
/// attacks (Lucky Thirteen). TLS 1.3's three suites are all AEAD and stay as they are.
/// <para>
/// The list is set as OpenSSL's process-wide default (the <c>system_default</c> section an <c>openssl.cnf</c> may
/// hold, here loaded from memory), not as a <see cref="System.Net.Security.CipherSuitesPolicy"/>: .NET builds a new
/// OpenSSL context for every handshake of a server that has a cipher suite policy (no context cache, no session
/// resumption), which cost about 40% of the handshakes a core could do. Being process-wide, the same TLS 1.2 suites
/// hold for an HTTPS endpoint.
/// </para>
/// </summary>
internal static partial class TlsSuites
{
    private const string OpenSsl = "libssl.so.3";
    private const string Crypto = "libcrypto.so.3";

    // Loaded before .NET first sets up its own TLS layer, which then finds a configured cipher list and keeps it.
    private const string Configuration =
        "openssl_conf = pixel_ping\n" +
        "[pixel_ping]\nssl_conf = pixel_ping_ssl\n" +
        "[pixel_ping_ssl]\nsystem_default = pixel_ping_tls\n" +
        "[pixel_ping_tls]\nCipherString = ECDHE+AESGCM:ECDHE+CHACHA20\n";

    // OPENSSL_INIT_LOAD_CONFIG: the system's openssl.cnf (if any) is read now, once, so that it cannot replace this
    // configuration later.
    private const ulong LoadConfig = 0x00000040;

    private static readonly bool s_applied = Apply();

    /// <summary>True when OpenSSL took the list as its default (the first use does the work).</summary>
    public static bool Applied => s_applied;

    private static bool Apply()
    {
        nint text = 0;
        nint bio = 0;
        nint conf = 0;
        try
        {
            if (OPENSSL_init_ssl(LoadConfig, 0) != 1)
            {
                return false;
            }

            // The memory buffer must outlive the BIO that reads it: unmanaged, freed below.
            byte[] bytes = System.Text.Encoding.ASCII.GetBytes(Configuration);
            text = Marshal.AllocHGlobal(bytes.Length);
            Marshal.Copy(bytes, 0, text, bytes.Length);
            bio = BIO_new_mem_buf(text, bytes.Length);
            conf = NCONF_new_ex(0, 0);
            return bio != 0 && conf != 0 && NCONF_load_bio(conf, bio, out _) == 1 && CONF_modules_load(conf, 0, 0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
        finally
        {
            if (conf != 0)
            {
                NCONF_free(conf);
            }

            if (bio != 0)
            {
                BIO_free(bio);
            }

            if (text != 0)
            {
                Marshal.FreeHGlobal(text);
            }

            // What went wrong (if anything) is answered by the fallback; OpenSSL's queue must not hold it for the next caller.
            ERR_clear_error();
        }
    }

    [LibraryImport(OpenSsl)]
    private static partial int OPENSSL_init_ssl(ulong options, nint settings);

    [LibraryImport(Crypto)]
    private static partial nint BIO_new_mem_buf(nint buffer, int length);

    [LibraryImport(Crypto)]
    private static partial int BIO_free(nint bio);

    [LibraryImport(Crypto)]
    private static partial nint NCONF_new_ex(nint libraryContext, nint method);

    [LibraryImport(Crypto)]
    private static partial int NCONF_load_bio(nint conf, nint bio, out nint errorLine);

    [LibraryImport(Crypto)]
    private static partial void NCONF_free(nint conf);

    [LibraryImport(Crypto)]
    private static partial int CONF_modules_load(nint conf, nint appName, ulong flags);

    [LibraryImport(Crypto)]
    private static partial void ERR_clear_error();
}
