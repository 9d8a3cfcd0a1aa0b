namespace PixelPing;

/// <summary>
/// The one way long-running work is started without being awaited: an exception is logged on stderr and never
/// ends the process (SPEC §6: an unexpected error in one connection or one flush never ends the process).
/// </summary>
internal static class Background
{
    public static Task Run(string what, Func<Task> work) => Task.Run(async () =>
    {
        try
        {
            await work().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            Log.Error($"--- {what} failed: {e.GetType().Name}: {e.Message}");
        }
    });
}
