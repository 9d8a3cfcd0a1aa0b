namespace PixelPing.Tests.Support;

/// <summary>The tests that share one <see cref="PostgresServer"/> server; xunit runs them one after the other.</summary>
[CollectionDefinition("Postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>;
