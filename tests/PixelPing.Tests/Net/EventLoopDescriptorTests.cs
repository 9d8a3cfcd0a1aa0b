using System.Net;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Net;

/// <summary>What an event loop leaves behind in the process once its server is disposed: nothing.</summary>
[Collection(Alone.Name)]
public sealed class EventLoopDescriptorTests
{
    [Fact]
    public async Task A_disposed_server_leaves_no_eventfd_open()
    {
        int before = EventFds();
        for (int i = 0; i < 3; i++)
        {
            var settings = InProcessServer.Defaults(intervalSeconds: 3600) with { Status = new IPEndPoint(IPAddress.Loopback, 0) };
            await using (var server = InProcessServer.Start(settings))
            {
                // A wake-up eventfd per loop: the pixel port's, at least one, and the status port's.
                Assert.True(EventFds() >= before + 2, $"{EventFds()} eventfds while serving, {before} before");
            }
        }

        Assert.Equal(before, EventFds());
    }

    /// <summary>This process's descriptors that are eventfds (sockets and files are left out: other code opens those).</summary>
    private static int EventFds()
    {
        int count = 0;
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == "anon_inode:[eventfd]")
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // Closed between the listing and the look: not ours to count.
            }
        }

        return count;
    }
}
