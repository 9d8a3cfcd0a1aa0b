using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PixelPing.Counting;
using PixelPing.Filtering;
using PixelPing.Flushing;
using PixelPing.Http;
using PixelPing.Net;

// Micro-benchmarks: ns per operation and bytes allocated per operation for the request parser, the key decoder, the
// hit store, the hit filters, the batch encoder and a keep-alive request through the event loop. Each case warms up,
// then runs for about a second; the figures are for comparing changes on one machine, not absolute. Bytes are those
// every thread of the process allocated (GC.GetTotalAllocatedBytes), so the event loop's thread counts too.
var seconds = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1.0;
// The cases whose name contains the second argument, when one is given.
string? only = args.Length > 1 ? args[1] : null;
bool Wanted(string name) => only is null || name.Contains(only, StringComparison.OrdinalIgnoreCase);

byte[] browserRequest = Encoding.ASCII.GetBytes(
    "GET /pixel.gif?key=document:42:http%3A%2F%2Fexample.com%2Fa%3Fb%3Dc HTTP/1.1\r\n" +
    "Host: stats.example.org\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
    "Accept: image/avif,image/webp,*/*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n" +
    "Referer: https://example.com/a?b=c\r\nConnection: keep-alive\r\nSec-Fetch-Dest: image\r\n\r\n");
byte[] wrkRequest = Encoding.ASCII.GetBytes("GET /pixel.gif?key=bench HTTP/1.1\r\nHost: 127.0.0.1:9187\r\n\r\n");
byte[] query = Encoding.ASCII.GetBytes("key=document:42:http%3A%2F%2Fexample.com%2Fa%3Fb%3Dc");
byte[] plainQuery = Encoding.ASCII.GetBytes("key=document:42");
byte[] scratch = new byte[1024];
var limits = HttpLimits.Default;
var store = new HitStore(1_000_000);
byte[] known = Encoding.UTF8.GetBytes("document:42");
store.Record(known);
var entries = Enumerable.Range(0, 100_000)
    .Select(i => new KeyValuePair<byte[], long>(Encoding.UTF8.GetBytes($"document:{i}:\"quoted\" é"), i))
    .ToArray();

// The hit filters: the bot matcher on a browser's User-Agent (no token found: the whole string is searched) and on a
// crawler's, and every filter on at once for the browser request above (parse with capture + all checks).
byte[] browserAgent = Encoding.ASCII.GetBytes("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0");
byte[] crawlerAgent = Encoding.ASCII.GetBytes("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
AddressRange.TryParse("198.51.100.0/24", out AddressRange office, out _);
AddressRange.TryParse("10.0.0.0/8", out AddressRange proxies, out _);
var filter = new HitFilter(true, true, ReferrerHosts.Create(["example.com", "*.example.com"]), false,
    [new KeyPattern("document:*")], [office], [proxies], new ClientCap(1_000_000_000, 100_000, SipHash.WithRandomKey()));
var capturing = limits with { Capture = filter.Wanted };
UInt128 peer = NetAddress.FromIPv4(0xC0000201);

Console.WriteLine($"{"case",-34} {"ns/op",10} {"bytes/op",10}");
Run("parse browser request (409 B)", () => new RequestParser().Parse(browserRequest, limits).HeadLength);
Run("parse wrk request", () => new RequestParser().Parse(wrkRequest, limits).HeadLength);
Run("parse browser request, capturing", () => new RequestParser().Parse(browserRequest, capturing).HeadLength);
Run("bot match, browser UA (miss)", () => BotMatcher.IsBot(browserAgent) ? 1 : 0);
Run("bot match, crawler UA (hit)", () => BotMatcher.IsBot(crawlerAgent) ? 1 : 0);
Run("all filters, browser request", () =>
{
    ParsedRequest r = new RequestParser().Parse(browserRequest, capturing);
    return (int)filter.Check(browserRequest, r, peer, known, window: 0, out _);
});
Run("decode key (percent-encoded)", () => { KeyDecoder.Decode(query, scratch, out int n); return n; });
Run("decode key (plain)", () => { KeyDecoder.Decode(plainQuery, scratch, out int n); return n; });
Run("record hit, known key", () =>
{
    store.Record(known);
    return 1;
});
// What the HTTP endpoint does with a batch: one pass for its length and signature, then the pieces it sends.
var bodyBatch = new Batch("bench-1", entries);
Run("flush body, 100k keys (sign + send)", () =>
{
    long length = 0;
    using (var mac = System.Security.Cryptography.IncrementalHash.CreateHMAC(System.Security.Cryptography.HashAlgorithmName.SHA256, "secret"u8))
    {
        foreach (ReadOnlyMemory<byte> piece in BatchEncoder.EncodeBodyChunks(bodyBatch, "secret"))
        {
            length += piece.Length;
            mac.AppendData(piece.Span);
        }
    }

    long sent = 0;
    foreach (ReadOnlyMemory<byte> piece in BatchEncoder.EncodeBodyChunks(bodyBatch, "secret"))
    {
        sent += piece.Length;
    }

    return (int)(sent - length);
}, perOp: 1);

// flush stall: the longest a loop waits on the store while a flush takes 100,000 keys: one thread counts random keys of its half
// (timing each Record), another counted the other half before the take, and the main thread takes the store. The
// figure per round is the longest Record that overlapped the take; the median and worst of 60 rounds are printed.
if (Wanted("flush stall"))
{
    FlushStall(rounds: 60, keyCount: 100_000);
}

// gc after a flush: the flusher's full collection once a 100,000-key batch is dropped, with the next interval's
// 100,000 keys live in the store: the loops' pause, as GC.GetTotalPauseDuration counts it around the blocking
// collection, or the two suspensions of a background one (DOTNET_gcConcurrent=1, as the executable is built).
if (Wanted("gc after a flush"))
{
    GcAfterFlush(rounds: 20, keyCount: 100_000);
}

// A keep-alive request through the real event loop (one loop, the pixel application, a client socket on loopback):
// receive, parse, count, answer and send, plus the client's own send and receive. The goal is zero bytes per request
// in steady state.
var loopStore = new HitStore(1000);
var context = new ListenerContext(new PixelApplication(loopStore, 64), new ListenerLimits(limits, HeaderTimeoutMs: 10_000, IdleTimeoutMs: 60_000, MaxConnections: 16));
Listener listener = Listener.TryBind("127.0.0.1", 0, context, out string bindError, loops: 1) ?? throw new InvalidOperationException(bindError);
listener.Start();
using (var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true })
{
    client.Connect(IPAddress.Loopback, listener.EndPoints[0].Port);
    byte[] answer = new byte[4096];
    client.Send(wrkRequest);
    int answerLength = client.Receive(answer);
    Run("keep-alive request, event loop", () =>
    {
        client.Send(wrkRequest);
        for (int got = 0; got < answerLength;)
        {
            got += client.Receive(answer, got, answerLength - got, SocketFlags.None);
        }

        return answerLength;
    });
}

await listener.DisposeAsync();

void Run(string name, Func<int> op, int perOp = 1)
{
    if (!Wanted(name))
    {
        return;
    }

    for (int i = 0; i < 1000; i++)
    {
        op();
    }

    long iterations = 0;
    long sink = 0;
    long allocated = GC.GetTotalAllocatedBytes(precise: true);
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed.TotalSeconds < seconds)
    {
        for (int i = 0; i < 100; i++)
        {
            sink += op();
        }

        iterations += 100;
    }

    clock.Stop();
    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    Console.WriteLine($"{name,-34} {clock.Elapsed.TotalNanoseconds / iterations / perOp,10:F1} {(double)allocated / iterations,10:F1}");
    GC.KeepAlive(sink);
}

void FlushStall(int rounds, int keyCount)
{
    byte[][] keys = Enumerable.Range(0, keyCount).Select(i => Encoding.UTF8.GetBytes($"/articles/2026/{i:000000}/a-title-of-some-length")).ToArray();
    var stallStore = new HitStore(keyCount * 2);
    long roundMax = 0;
    long recorded = 0;
    bool done = false;
    var counter = new Thread(() =>
    {
        var random = new Random(1);
        while (!Volatile.Read(ref done))
        {
            byte[] key = keys[random.Next(keyCount / 2)];
            long start = Stopwatch.GetTimestamp();
            stallStore.Record(key);
            long took = Stopwatch.GetTimestamp() - start;
            if (took > Volatile.Read(ref roundMax))
            {
                Volatile.Write(ref roundMax, took);
            }

            Interlocked.Increment(ref recorded);
        }
    }) { IsBackground = true };
    counter.Start();
    var stalls = new List<double>();
    var takes = new List<double>();
    var pauses = new List<double>();
    var controls = new List<double>();
    long lastTake = Stopwatch.Frequency / 50;
    for (int round = 0; round < rounds + 3; round++)
    {
        var other = new Thread(() =>
        {
            for (int i = keyCount / 2; i < keyCount; i++)
            {
                stallStore.Record(keys[i]);
            }
        });
        other.Start();
        other.Join();
        while (stallStore.DistinctKeys < keyCount * 9 / 10)
        {
            Thread.Yield();
        }

        // A window as long as the last take, without one: what the machine's scheduling and the collector alone
        // cost a Record, to set the figure against.
        Volatile.Write(ref roundMax, 0);
        long quiet = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() - quiet < lastTake)
        {
            Thread.Yield();
        }

        if (round >= 3)
        {
            controls.Add(Stopwatch.GetElapsedTime(0, Volatile.Read(ref roundMax)).TotalMilliseconds);
        }

        Volatile.Write(ref roundMax, 0);
        TimeSpan paused = GC.GetTotalPauseDuration();
        long start = Stopwatch.GetTimestamp();
        Snapshot taken = stallStore.Take();
        long took = Stopwatch.GetTimestamp() - start;
        lastTake = took;
        // The Record that was waiting when the take ended has finished once two more have.
        long after = Interlocked.Read(ref recorded) + 2;
        while (Interlocked.Read(ref recorded) < after)
        {
            Thread.Yield();
        }

        paused = GC.GetTotalPauseDuration() - paused;
        if (round >= 3)
        {
            pauses.Add(paused.TotalMilliseconds);
            stalls.Add(Stopwatch.GetElapsedTime(0, Volatile.Read(ref roundMax)).TotalMilliseconds);
            takes.Add(Stopwatch.GetElapsedTime(0, took).TotalMilliseconds);
        }

        GC.KeepAlive(taken);
    }

    Volatile.Write(ref done, true);
    counter.Join();
    stalls.Sort();
    takes.Sort();
    pauses.Sort();
    controls.Sort();
    Console.WriteLine($"{"flush stall, 100k keys",-34} median {stalls[stalls.Count / 2]:F2} ms, worst {stalls[^1]:F2} ms (take: median {takes[takes.Count / 2]:F2} ms; GC pauses meanwhile: median {pauses[pauses.Count / 2]:F2} ms, worst {pauses[^1]:F2} ms; as long without a take: median {controls[controls.Count / 2]:F2} ms, worst {controls[^1]:F2} ms)");
}

void GcAfterFlush(int rounds, int keyCount)
{
    var gcStore = new HitStore(keyCount * 2);
    int serial = 0;
    void Fill()
    {
        for (int i = 0; i < keyCount; i++)
        {
            gcStore.Record(Encoding.UTF8.GetBytes($"/articles/2026/{serial++:0000000000}/a-title-of-some-length"));
        }
    }

    Fill();
    // Batch is the latency mode of a runtime whose concurrent collection is off.
    bool background = System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.Batch;
    var pauses = new List<double>();
    for (int round = 0; round < rounds + 2; round++)
    {
        Snapshot batch = gcStore.Take();
        Fill();
        // Everything old enough to be in the oldest generation, as a batch's keys are after an interval.
        GC.Collect();
        GC.KeepAlive(batch);
        batch = null!;
        double paused;
        if (background)
        {
            long index = GC.GetGCMemoryInfo(GCKind.Background).Index;
            GC.Collect(2, GCCollectionMode.Forced, blocking: false);
            while (GC.GetGCMemoryInfo(GCKind.Background).Index == index)
            {
                Thread.Sleep(1);
            }

            GCMemoryInfo info = GC.GetGCMemoryInfo(GCKind.Background);
            paused = Math.Max(info.PauseDurations[0].TotalMilliseconds, info.PauseDurations[1].TotalMilliseconds);
        }
        else
        {
            TimeSpan before = GC.GetTotalPauseDuration();
            GC.Collect();
            paused = (GC.GetTotalPauseDuration() - before).TotalMilliseconds;
        }

        if (round >= 2)
        {
            pauses.Add(paused);
        }
    }

    pauses.Sort();
    Console.WriteLine($"{"gc after a flush, 100k keys",-34} {(background ? "background, longest suspension" : "blocking, pause")}: median {pauses[pauses.Count / 2]:F2} ms, worst {pauses[^1]:F2} ms");
}
