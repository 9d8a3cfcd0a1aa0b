namespace PixelPing.Tests.Support;

/// <summary>
/// Tests that read process-wide state (the descriptors of this test process) which tests running beside them would
/// change: xunit runs this collection by itself, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class Alone
{
    public const string Name = "alone";
}
