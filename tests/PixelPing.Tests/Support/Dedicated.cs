namespace PixelPing.Tests.Support;

/// <summary>
/// Blocking or spinning test work (load loops, races) on threads of its own. On the thread pool it would hold the
/// few threads the pool keeps (as many as there are cores), which the in-process servers and endpoint receivers of the
/// tests running in parallel need to answer in time; the pool adds threads only slowly (about one per half second),
/// so a receiver could miss a flush's timeout.
/// </summary>
public static class Dedicated
{
    public static Task Run(Action work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
