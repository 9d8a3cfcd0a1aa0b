namespace PixelPing.Monitoring;

/// <summary>The two Prometheus metric types this server exposes.</summary>
internal enum MetricType : byte
{
    Counter,
    Gauge,
}
