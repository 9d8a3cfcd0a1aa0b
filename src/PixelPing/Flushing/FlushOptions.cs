namespace PixelPing.Flushing;

/// <summary>The settings a flush needs, taken from the config file.</summary>
internal sealed record FlushOptions(TimeSpan Interval, bool Discard, bool LogKeys, int MaxKeyLength);
