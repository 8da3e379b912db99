using Wcfs.Actors.Storage;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Storage;

/// <summary>The conformance suite against a fresh PostgreSQL database per test (PostgresFixture).</summary>
[Collection("postgres")]
public sealed class PostgresStorageConformanceTests(PostgresFixture pg, ITestOutputHelper output) : StorageConformanceTests(output)
{
    private string? _url;

    protected override string Url => _url ??= pg.NewDatabase();

    protected override IStorage CreateStorage() => StorageFactory.Open(Url);

    protected override IStorage OpenSecondInstance() => StorageFactory.Open(Url);
}
