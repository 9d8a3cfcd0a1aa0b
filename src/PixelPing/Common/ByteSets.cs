namespace PixelPing.Common;

/// <summary>Building blocks for the byte sets the parsers and encoders search with (<c>SearchValues</c>).</summary>
internal static class ByteSets
{
    /// <summary>The bytes <paramref name="first"/> to <paramref name="last"/>, both included.</summary>
    public static byte[] Range(byte first, byte last)
    {
        byte[] bytes = new byte[last - first + 1];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(first + i);
        }

        return bytes;
    }
}
