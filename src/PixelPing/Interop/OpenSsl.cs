using System.Runtime.InteropServices;

namespace PixelPing.Interop;

/// <summary>
/// The OpenSSL calls that load a configuration from memory (Tls/TlsSuites.cs). Linked in by the static build
/// (DirectPInvoke in the project file), loaded from the system by the dynamic one. Nothing here runs at start: the
/// first call maps OpenSSL, which only a TLS listener or an HTTPS endpoint needs.
/// </summary>
internal static partial class OpenSsl
{
    private const string Ssl = "libssl.so.3";
    private const string Crypto = "libcrypto.so.3";

    /// <summary>OPENSSL_INIT_LOAD_CONFIG: read the system's openssl.cnf (if any) now, once.</summary>
    public const ulong OPENSSL_INIT_LOAD_CONFIG = 0x00000040;

    [LibraryImport(Ssl)]
    public static partial int OPENSSL_init_ssl(ulong options, nint settings);

    [LibraryImport(Crypto)]
    public static partial nint BIO_new_mem_buf(nint buffer, int length);

    [LibraryImport(Crypto)]
    public static partial int BIO_free(nint bio);

    [LibraryImport(Crypto)]
    public static partial nint NCONF_new_ex(nint libraryContext, nint method);

    [LibraryImport(Crypto)]
    public static partial int NCONF_load_bio(nint conf, nint bio, out nint errorLine);

    [LibraryImport(Crypto)]
    public static partial void NCONF_free(nint conf);

    [LibraryImport(Crypto)]
    public static partial int CONF_modules_load(nint conf, nint appName, ulong flags);

    [LibraryImport(Crypto)]
    public static partial void ERR_clear_error();
}
