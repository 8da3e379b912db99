using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Storage;

/// <summary>The conformance suite against a fresh SQLite file per test.</summary>
public sealed class SqliteStorageConformanceTests(ITestOutputHelper output) : StorageConformanceTests(output)
{
    private readonly TempDirectory _dir = new("wcfs-sqlite");

    protected override string Url => "sqlite://" + _dir.File("wcfs.db");

    protected override IStorage CreateStorage() => StorageFactory.Open(Url);

    protected override IStorage OpenSecondInstance() => StorageFactory.Open(Url);

    protected override void Cleanup() => _dir.Dispose();

    protected override bool StoresDeltas => true;
}
