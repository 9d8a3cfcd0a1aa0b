namespace PixelPing;

internal static class Program
{
    private static int Main(string[] args)
    {
        Console.WriteLine("Pixel Ping");
        return args.Length;
    }
}
