namespace PixelPing.Common;

/// <summary>
/// Starts long-running work (the accept and flush loops) without awaiting it: an exception is logged on stderr and
/// never ends the process, since an unexpected error in one loop must not take the counts of all the others with it.
/// A connection's loop catches and logs its own errors and is started directly.
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
