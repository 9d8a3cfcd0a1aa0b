using System.Security.Cryptography;

namespace PixelPing.Flushing;

/// <summary>
/// An HTTP receiver: each batch is POSTed as the form <see cref="BatchEncoder"/> writes, signed with the secret when
/// there is one. The body is never held whole: one pass over it gives its length and signature, and it is encoded
/// again, piece by piece, as it is sent (the same batch and secret give the same bytes, so a resend is byte for byte
/// the same request).
/// </summary>
internal sealed class HttpEndpoint(EndpointClient client, string? secret) : IEndpoint
{
    public Task<ProbeResult?> ProbeAsync(CancellationToken cancellation) => Task.FromResult<ProbeResult?>(null);

    public Task<FlushOutcome> SendAsync(Batch batch, Action? completing, CancellationToken cancellation)
    {
        long length = 0;
        using IncrementalHash? mac = secret is null ? null : Signature.Start(secret);
        foreach (ReadOnlyMemory<byte> piece in BatchEncoder.EncodeBodyChunks(batch, secret))
        {
            length += piece.Length;
            mac?.AppendData(piece.Span);
        }

        string? signature = mac is null ? null : Signature.Finish(mac);
        return client.PostAsync(length, BatchEncoder.EncodeBodyChunks(batch, secret), signature, cancellation, completing);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
