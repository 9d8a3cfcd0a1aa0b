using System.IO.Pipes;
using System.Runtime.InteropServices;
using System.Text;
using PixelPing.Common;
using PixelPing.Tests.Support;

namespace PixelPing.Tests.Common;

/// <summary>
/// The log's queue over a real pipe that the test reads or leaves unread (a stalled terminal): what may not wait is
/// dropped and said once, what waits is never dropped, and an exit is never held for long by a stalled reader.
/// </summary>
public sealed class LogQueueTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static byte[] Line(string text) => Encoding.UTF8.GetBytes(text + "\n");

    private static byte[] Said(long count) => Line($"dropped {count}");

    /// <summary>A pipe whose reading end the test holds; the queue writes stdout and stderr both into it, so their order shows.</summary>
    private sealed class Stalled : IDisposable
    {
        private readonly AnonymousPipeServerStream _write = new(PipeDirection.Out);
        private readonly AnonymousPipeClientStream _read;
        private readonly MemoryStream _seen = new();
        private Task? _reader;

        public Stalled()
        {
            _read = new AnonymousPipeClientStream(PipeDirection.In, _write.ClientSafePipeHandle);
            Queue = new LogQueue(_write, _write, Said);
        }

        public LogQueue Queue { get; }

        /// <summary>The reader starts reading, as a terminal that was stalled resumes.</summary>
        public void Resume() => _reader = Dedicated.Run(() =>
        {
            byte[] buffer = new byte[64 * 1024];
            int n;
            while ((n = _read.Read(buffer)) > 0)
            {
                lock (_seen)
                {
                    _seen.Write(buffer, 0, n);
                }
            }
        });

        public string[] Lines
        {
            get
            {
                lock (_seen)
                {
                    return Encoding.UTF8.GetString(_seen.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                }
            }
        }

        /// <summary>
        /// Fills the queue with lines that may not wait until one is dropped while the writer is blocked on the full
        /// pipe, so that nothing can make room until the test reads; returns the lines taken and counts those dropped.
        /// </summary>
        public List<string> FillUntilDropped(string prefix, out int dropped)
        {
            var taken = new List<string>();
            dropped = 0;
            for (int i = 0; ; i++)
            {
                string text = $"{prefix} {i} {new string('x', 100)}";
                byte[] bytes = Line(text);
                if (Queue.TryWrite(stderr: i % 2 == 0, bytes, bytes.Length))
                {
                    taken.Add(text);
                    continue;
                }

                dropped++;
                if (WriterBlocked())
                {
                    return taken;
                }

                // The queue filled before its writer filled the pipe: once it has, the lines it took out make room.
                Assert.True(SpinWait.SpinUntil(WriterBlocked, Deadline), "the writer never blocked on the full pipe");
            }
        }

        /// <summary>Whether a log writer thread of this process is in write(2) on this pipe, which only a full pipe blocks.</summary>
        private bool WriterBlocked()
        {
            int write = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 64 : 1;
            string call = $"{write} 0x{_write.SafePipeHandle.DangerousGetHandle():x} ";
            foreach (string task in Directory.GetDirectories("/proc/self/task"))
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(task, "comm")).TrimEnd() == "log writer"
                        && File.ReadAllText(Path.Combine(task, "syscall")).StartsWith(call, StringComparison.Ordinal))
                    {
                        return true;
                    }
                }
                catch (IOException)
                {
                    // The thread ended meanwhile.
                }
            }

            return false;
        }

        /// <summary>Closes the writing end and waits until the reader has read everything written.</summary>
        public void Dispose()
        {
            if (_reader is null)
            {
                // Never read (a test that failed early): the reading end goes first, so that a write blocked on the
                // full pipe fails at once instead of holding up the writing end's close.
                _read.Dispose();
            }

            _write.Dispose();
            _reader?.Wait(Deadline);
            _read.Dispose();
        }
    }

    [Fact]
    public async Task A_line_that_may_not_wait_is_dropped_when_the_queue_is_full_and_the_count_is_said_once_after_catching_up()
    {
        using var pipe = new Stalled();
        List<string> taken = pipe.FillUntilDropped("loop", out int dropped);
        // Nobody reads, so the queue stays full: each further line is dropped at once, without waiting.
        // Longer than the line that found no room, so none of these fits either.
        byte[] lost = Line($"lost {new string('x', 110)}");
        for (int i = 0; i < 9; i++)
        {
            Assert.False(pipe.Queue.TryWrite(stderr: true, lost, lost.Length));
        }

        Assert.Equal(dropped + 9, pipe.Queue.DroppedTotal);
        Assert.True(taken.Count * 100 > LogQueue.Capacity / 2);

        pipe.Resume();
        string said = $"dropped {dropped + 9}";
        await Wait.Until(() => pipe.Lines.Contains(said), "the dropped lines are said", Deadline);
        byte[] after = Line("after");
        Assert.True(pipe.Queue.TryWrite(stderr: false, after, after.Length));
        Assert.True(pipe.Queue.Finish());
        pipe.Dispose();

        // Every line taken, in order, then the count once, after them; nothing said twice.
        Assert.Equal([.. taken, said, "after"], pipe.Lines);
        Assert.Equal(dropped + 9, pipe.Queue.DroppedTotal);
    }

    [Fact]
    public async Task A_line_that_waits_is_never_dropped_and_waits_while_the_reader_is_stalled()
    {
        using var pipe = new Stalled();
        List<string> taken = pipe.FillUntilDropped("loop", out int dropped);
        // The queue is full and nobody reads: a key line waits for room instead of being dropped.
        Task keys = Dedicated.Run(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                byte[] chunk = Line($"{i}:\tkey {new string('k', 32 * 1024)}");
                pipe.Queue.Write(stderr: false, chunk, chunk.Length, pooled: false);
            }
        });
        Assert.False(keys.IsCompleted);

        pipe.Resume();
        await keys.WaitAsync(Deadline);
        Assert.True(pipe.Queue.Finish());
        pipe.Dispose();

        string[] lines = pipe.Lines;
        Assert.Equal(taken, lines[..taken.Count]);
        // The lines dropped while filling are said; every key line is there, in order.
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"{i}:\tkey {new string('k', 32 * 1024)}"), lines.Where(l => l.Contains(":\tkey ", StringComparison.Ordinal)));
        Assert.Single(lines, $"dropped {dropped}");
        Assert.Equal(dropped, pipe.Queue.DroppedTotal);
    }

    [Fact]
    public async Task At_exit_a_reader_that_never_resumes_holds_up_neither_a_waiting_line_nor_the_finish()
    {
        using var pipe = new Stalled();
        pipe.FillUntilDropped("loop", out int dropped);
        Task waiting = Dedicated.Run(() =>
        {
            byte[] chunk = Line("0:\tkey");
            pipe.Queue.Write(stderr: false, chunk, chunk.Length, pooled: false);
        });

        // The waiting line gives up once the exit begins and the drain time is spent, and is counted as dropped.
        pipe.Queue.BeginExit();
        await waiting.WaitAsync(Deadline);
        Task<bool> finished = Task.Run(pipe.Queue.Finish);
        Assert.False(await finished.WaitAsync(Deadline));
        Assert.Equal(dropped + 1, pipe.Queue.DroppedTotal);

        // So that the writer, blocked in its write, can end with the test.
        pipe.Resume();
    }

    [Fact]
    public void Finish_writes_everything_queued_before_it_returns()
    {
        using var pipe = new Stalled();
        pipe.Resume();
        for (int i = 0; i < 1000; i++)
        {
            byte[] bytes = Line($"line {i}");
            pipe.Queue.Write(stderr: i % 3 == 0, bytes, bytes.Length, pooled: false);
        }

        Assert.True(pipe.Queue.Finish());
        // Finish returned after the last write(2): whatever the reader has not read yet is in the pipe already.
        pipe.Dispose();
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => $"line {i}"), pipe.Lines);
    }
}
