using System.Runtime.InteropServices;
using PixelPing.Interop;

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
internal static class TlsSuites
{
    // Loaded before .NET first sets up its own TLS layer, which then finds a configured cipher list and keeps it.
    private const string Configuration =
        "openssl_conf = pixel_ping\n" +
        "[pixel_ping]\nssl_conf = pixel_ping_ssl\n" +
        "[pixel_ping_ssl]\nsystem_default = pixel_ping_tls\n" +
        "[pixel_ping_tls]\nCipherString = ECDHE+AESGCM:ECDHE+CHACHA20\n";

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
            // The system's openssl.cnf (if any) is read now, once, so that it cannot replace this configuration later.
            if (OpenSsl.OPENSSL_init_ssl(OpenSsl.OPENSSL_INIT_LOAD_CONFIG, 0) != 1)
            {
                return false;
            }

            // The memory buffer must outlive the BIO that reads it: unmanaged, freed below.
            byte[] bytes = System.Text.Encoding.ASCII.GetBytes(Configuration);
            text = Marshal.AllocHGlobal(bytes.Length);
            Marshal.Copy(bytes, 0, text, bytes.Length);
            bio = OpenSsl.BIO_new_mem_buf(text, bytes.Length);
            conf = OpenSsl.NCONF_new_ex(0, 0);
            return bio != 0 && conf != 0 && OpenSsl.NCONF_load_bio(conf, bio, out _) == 1 && OpenSsl.CONF_modules_load(conf, 0, 0) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
        finally
        {
            if (conf != 0)
            {
                OpenSsl.NCONF_free(conf);
            }

            if (bio != 0)
            {
                OpenSsl.BIO_free(bio);
            }

            if (text != 0)
            {
                Marshal.FreeHGlobal(text);
            }

            // What went wrong (if anything) is answered by the fallback; OpenSSL's queue must not hold it for the next caller.
            OpenSsl.ERR_clear_error();
        }
    }
}
