using System.Buffers;

namespace PixelPing.Common;

/// <summary>
/// The one writer of stdout and stderr: lines wait in a bounded queue, and a dedicated thread writes them in the order
/// they came, so that a slow or blocked stream (a pipe nobody reads, a stalled terminal, a full journald) holds up only
/// that thread. Two kinds of line:
/// <list type="bullet">
/// <item>what an event loop or a signal handler writes never waits: when the queue is full it is dropped and counted,
/// and once the writer has caught up (written all it holds) one line says how many were dropped;</item>
/// <item>everything else (a flush's key lines above all) waits for room, so it is never dropped while the process
/// runs. Lines that wait use at most three quarters of the queue, which keeps room for a loop's line during a long key
/// dump.</item>
/// </list>
/// At exit (<see cref="BeginExit"/>) waiting is bounded: from the first moment anything waits on the log, at most
/// <see cref="DrainTime"/> in all, whether a line waits for room or <see cref="Finish"/> for the queue to empty.
/// After that lines are dropped and the process exits even if neither stream is being read.
/// </summary>
internal sealed class LogQueue
{
    public const int Capacity = 512 * 1024;
    private const int WaitingCapacity = Capacity / 4 * 3;

    /// <summary>How long, at most, the log can hold up the exit.</summary>
    public static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(2);

    // Monitor.Wait and Pulse need a plain object (System.Threading.Lock has no condition variable).
    private readonly object _gate = new();
    private readonly Queue<Chunk> _chunks = new();
    private readonly Stream _out;
    private readonly Stream _err;
    private readonly Func<long, byte[]> _describeDropped;
    private Thread? _thread;
    private int _queued;
    private bool _writing;
    private long _droppedTotal;
    private long _droppedUnsaid;
    private bool _exiting;
    private long _exitDeadline;

    /// <param name="describeDropped">The line (on stderr) that says how many lines were dropped.</param>
    public LogQueue(Stream stdout, Stream stderr, Func<long, byte[]> describeDropped)
    {
        _out = stdout;
        _err = stderr;
        _describeDropped = describeDropped;
    }

    /// <summary>Lines dropped since the start because the queue was full.</summary>
    public long DroppedTotal => Interlocked.Read(ref _droppedTotal);

    /// <summary>
    /// Queues <paramref name="length"/> bytes of <paramref name="bytes"/>, without ever waiting: false when they were
    /// dropped because the queue is full. For an event loop's and a signal handler's lines.
    /// </summary>
    public bool TryWrite(bool stderr, byte[] bytes, int length)
    {
        lock (_gate)
        {
            if (_queued + length > Capacity)
            {
                DropLocked();
                return false;
            }

            EnqueueLocked(new Chunk(bytes, length, stderr, pooled: false));
            return true;
        }
    }

    /// <summary>
    /// Queues <paramref name="length"/> bytes of <paramref name="bytes"/>, waiting for room while the writer works
    /// through what is ahead of them; the array goes back to <see cref="ArrayPool{T}.Shared"/> once written when
    /// <paramref name="pooled"/>. Only at exit can the wait end without them, when the exit's time for the log is up.
    /// </summary>
    public void Write(bool stderr, byte[] bytes, int length, bool pooled)
    {
        lock (_gate)
        {
            // A chunk larger than the room for waiting lines goes in alone, when nothing is ahead of it.
            while (_queued > 0 && _queued + length > WaitingCapacity)
            {
                if (!WaitLocked())
                {
                    DropLocked();
                    if (pooled)
                    {
                        ArrayPool<byte>.Shared.Return(bytes);
                    }

                    return;
                }
            }

            EnqueueLocked(new Chunk(bytes, length, stderr, pooled));
        }
    }

    /// <summary>The process is about to exit: from now on the log holds it up for <see cref="DrainTime"/> at most.</summary>
    public void BeginExit()
    {
        lock (_gate)
        {
            _exiting = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>
    /// Waits until every line queued so far is written (and the dropped lines are said), or the exit's time for the
    /// log is up; true when everything was written.
    /// </summary>
    public bool Finish()
    {
        lock (_gate)
        {
            _exiting = true;
            while (_chunks.Count > 0 || _writing || _droppedUnsaid > 0)
            {
                if (!WaitLocked())
                {
                    return false;
                }
            }

            return true;
        }
    }

    // One wait on the gate for the writer's progress; false when the exit's time for the log is up.
    private bool WaitLocked()
    {
        if (!_exiting)
        {
            Monitor.Wait(_gate);
            return true;
        }

        long now = Environment.TickCount64;
        if (_exitDeadline == 0)
        {
            _exitDeadline = now + (long)DrainTime.TotalMilliseconds;
        }

        if (now >= _exitDeadline)
        {
            return false;
        }

        Monitor.Wait(_gate, (int)(_exitDeadline - now));
        return true;
    }

    private void DropLocked()
    {
        _droppedUnsaid++;
        Interlocked.Increment(ref _droppedTotal);
    }

    private void EnqueueLocked(Chunk chunk)
    {
        _chunks.Enqueue(chunk);
        _queued += chunk.Bytes.Length;
        if (_thread is null)
        {
            // Started with the first line; a small stack, since it only calls write(2).
            _thread = new Thread(Run, 256 * 1024) { IsBackground = true, Name = "log writer" };
            _thread.Start();
        }
        else
        {
            Monitor.PulseAll(_gate);
        }
    }

    private void Run()
    {
        while (true)
        {
            Chunk chunk;
            lock (_gate)
            {
                while (_chunks.Count == 0 && _droppedUnsaid == 0)
                {
                    Monitor.Wait(_gate);
                }

                if (_chunks.Count > 0)
                {
                    chunk = _chunks.Dequeue();
                }
                else
                {
                    // Caught up: everything that made it into the queue is out, so the count of what did not goes next.
                    byte[] said = _describeDropped(_droppedUnsaid);
                    _droppedUnsaid = 0;
                    chunk = new Chunk(said, said.Length, stderr: true, pooled: false);
                    _queued += said.Length;
                }

                _writing = true;
            }

            try
            {
                Stream stream = chunk.Stderr ? _err : _out;
                stream.Write(chunk.Bytes, 0, chunk.Length);
                stream.Flush();
            }
            catch (Exception)
            {
                // A closed stdout (the supervisor went away) must not take the server down with it, and whatever a
                // stream throws, the writer carries on: everything that logs would otherwise wait for it forever.
            }

            if (chunk.Pooled)
            {
                ArrayPool<byte>.Shared.Return(chunk.Bytes);
            }

            lock (_gate)
            {
                _queued -= chunk.Bytes.Length;
                _writing = false;
                Monitor.PulseAll(_gate);
            }
        }
    }

    private readonly struct Chunk(byte[] bytes, int length, bool stderr, bool pooled)
    {
        public byte[] Bytes { get; } = bytes;
        public int Length { get; } = length;
        public bool Stderr { get; } = stderr;
        public bool Pooled { get; } = pooled;
    }
}
