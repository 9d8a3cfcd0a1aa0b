using PixelPing.Counting;
using PixelPing.Filtering;
using PixelPing.Flushing;
using PixelPing.Net;
using PixelPing.Tls;

namespace PixelPing.Monitoring;

/// <summary>
/// What <c>/metrics</c> reports: the pixel port's counters (summed over its per-loop shards), the counter store, the
/// flusher, the certificate, the spool file and the process. Every counter only grows from the start of the process;
/// none is ever labelled with a key (keys are unbounded, and a label per key would make a series per key).
/// </summary>
internal sealed class ServerMetrics(HitStore store, ListenerContext pixelPort, Flusher flusher, Spool? spool)
{
    private readonly Lock _lock = new();
    private readonly MetricsWriter _writer = new();

    /// <summary>Writes the whole scrape and hands the text to <paramref name="use"/>; scrapes run one at a time.</summary>
    public T Scrape<T>(Func<ReadOnlySpan<byte>, T> use)
    {
        lock (_lock)
        {
            _writer.Reset();
            Write(_writer);
            return use(_writer.Written);
        }
    }

    private void Write(MetricsWriter w)
    {
        w.Family("pixelping_build_info"u8, MetricType.Gauge, "Always 1; the version of the running executable is its label."u8);
        w.Sample("pixelping_build_info"u8, "version"u8, ProductVersion.Value, 1);

        StatsSnapshot stats = pixelPort.Stats.Read();
        w.Family("pixelping_hits_total"u8, MetricType.Counter, "Hits counted (pixel requests whose key was counted)."u8);
        w.Sample("pixelping_hits_total"u8, store.HitsTotal);
        w.Family("pixelping_requests_total"u8, MetricType.Counter, "Requests answered on the pixel port, by HTTP status code."u8);
        Span<char> code = stackalloc char[3];
        for (int i = 0; i < StatsShard.Statuses.Length; i++)
        {
            StatsShard.Statuses[i].TryFormat(code, out _, default, System.Globalization.CultureInfo.InvariantCulture);
            w.Sample("pixelping_requests_total"u8, "code"u8, code, stats.Responses[i]);
        }

        if (stats.Responses[^1] > 0)
        {
            w.Sample("pixelping_requests_total"u8, "code"u8, "other", stats.Responses[^1]);
        }

        w.Family("pixelping_refused_hits_total"u8, MetricType.Counter, "Hits not counted, by reason: a new key past maxkeys, a key longer than maxkeylength."u8);
        w.Sample("pixelping_refused_hits_total"u8, "reason"u8, "maxkeys", store.RefusedFullTotal);
        w.Sample("pixelping_refused_hits_total"u8, "reason"u8, "maxkeylength", store.RefusedTooLongTotal);
        w.Family("pixelping_ignored_hits_total"u8, MetricType.Counter, "Hits the filters did not count, by reason (the first filter that applied)."u8);
        for (var reason = IgnoreReason.Bot; reason <= IgnoreReason.PerClient; reason++)
        {
            w.Sample("pixelping_ignored_hits_total"u8, "reason"u8, IgnoredHits.Name(reason), store.IgnoredTotal(reason));
        }

        w.Family("pixelping_keys"u8, MetricType.Gauge, "Distinct keys held now, waiting for the next flush."u8);
        w.Sample("pixelping_keys"u8, store.DistinctKeys);

        w.Family("pixelping_flushes_total"u8, MetricType.Counter, "Sends of a batch to the endpoint (a POST, or a database write), by result."u8);
        w.Sample("pixelping_flushes_total"u8, "result"u8, "success", flusher.Delivered);
        w.Sample("pixelping_flushes_total"u8, "result"u8, "failure", flusher.Failed);
        w.Family("pixelping_flushed_hits_total"u8, MetricType.Counter, "Hits in the batches the endpoint accepted."u8);
        w.Sample("pixelping_flushed_hits_total"u8, flusher.DeliveredHits);
        w.Family("pixelping_pending_batches"u8, MetricType.Gauge, "Batches taken from memory that the endpoint has not accepted yet."u8);
        w.Sample("pixelping_pending_batches"u8, flusher.PendingCount);
        w.Family("pixelping_last_flush_success_timestamp_seconds"u8, MetricType.Gauge, "When the endpoint last accepted a batch, in Unix seconds; 0 before the first."u8);
        w.Sample("pixelping_last_flush_success_timestamp_seconds"u8, flusher.LastDeliveredUnixMs / 1000.0);

        w.Family("pixelping_connections"u8, MetricType.Gauge, "Connections open on the pixel port."u8);
        w.Sample("pixelping_connections"u8, stats.Open);
        w.Family("pixelping_connections_total"u8, MetricType.Counter, "Connections accepted on the pixel port (including those refused over maxconnections)."u8);
        w.Sample("pixelping_connections_total"u8, stats.Accepted);
        w.Family("pixelping_connections_refused_total"u8, MetricType.Counter, "Connections closed at once because maxconnections were open."u8);
        w.Sample("pixelping_connections_refused_total"u8, stats.Refused);

        if (pixelPort.Tls is ServerCertificate tls)
        {
            w.Family("pixelping_tls_handshakes_total"u8, MetricType.Counter, "TLS handshakes on the pixel port, by result."u8);
            w.Sample("pixelping_tls_handshakes_total"u8, "result"u8, "success", stats.Handshakes);
            w.Sample("pixelping_tls_handshakes_total"u8, "result"u8, "failure", stats.FailedHandshakes);
            w.Family("pixelping_certificate_expiry_timestamp_seconds"u8, MetricType.Gauge, "When the served certificate expires (its notAfter), in Unix seconds."u8);
            w.Sample("pixelping_certificate_expiry_timestamp_seconds"u8, new DateTimeOffset(tls.Certificate.NotAfter.ToUniversalTime()).ToUnixTimeSeconds());
        }

        if (spool is not null)
        {
            w.Family("pixelping_spool_bytes"u8, MetricType.Gauge, "Size of the spool file of undelivered batches; 0 when there is none."u8);
            var file = new FileInfo(spool.FullPath);
            w.Sample("pixelping_spool_bytes"u8, file.Exists ? file.Length : 0);
        }

        w.Family("pixelping_log_lines_dropped_total"u8, MetricType.Counter, "Log lines dropped because stdout or stderr was not keeping up (only lines an event loop or a signal handler writes are)."u8);
        w.Sample("pixelping_log_lines_dropped_total"u8, Log.DroppedLines);

        ProcessMetrics.Write(w);
    }
}
