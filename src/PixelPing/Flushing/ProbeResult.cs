namespace PixelPing.Flushing;

/// <summary>
/// The start's and <c>--check</c>'s one line about a database endpoint: <c>endpoint: PostgreSQL 15.18, tables ready</c>,
/// or <c>endpoint: warning: …</c> with the reason. A warning never stops the start: the batches wait for the database.
/// </summary>
internal readonly record struct ProbeResult(bool Ready, string Line)
{
    /// <summary>The line on stdout when ready, on stderr when a warning.</summary>
    public void Say()
    {
        if (Ready)
        {
            Log.Out(Line);
        }
        else
        {
            Log.Error(Line);
        }
    }
}
