namespace PixelPing.Flushing;

/// <summary>
/// The start's and <c>--check</c>'s one line about a database endpoint: <c>endpoint: PostgreSQL 15.18, tables ready</c>,
/// or <c>endpoint: warning: …</c> with the reason. A warning never stops the start: the batches wait for the database.
/// </summary>
internal readonly record struct ProbeResult(bool Ready, string Line)
{
    /// <summary>
    /// The endpoint's look (null for an HTTP receiver); anything it throws is a warning too, since the look must never
    /// stop the start or fail <c>--check</c>.
    /// </summary>
    public static async Task<ProbeResult?> LookAsync(IEndpoint endpoint, CancellationToken cancellation)
    {
        try
        {
            return await endpoint.ProbeAsync(cancellation).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new ProbeResult(false, $"endpoint: warning: {e.GetType().Name}: {LogEscape.Text(e.Message)}");
        }
    }

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
