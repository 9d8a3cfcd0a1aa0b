namespace PixelPing.Flushing;

/// <summary>
/// Instants of a flush and of the final save at which a second stop signal must still lose nothing, and which nothing
/// outside the process can hold still; <see cref="Flusher.Pause"/> lets a test hold a flush there.
/// </summary>
internal enum FlushStep : byte
{
    /// <summary>The new batch is taken from the store; its keys are logged next (with <c>log</c> on).</summary>
    LoggingKeys,

    /// <summary>Its keys are logged; the endpoint encodes it and sends it next.</summary>
    Encoding,

    /// <summary>The stop took what is undelivered; the spool file is written (or the loss counted) next.</summary>
    Saving,
}
