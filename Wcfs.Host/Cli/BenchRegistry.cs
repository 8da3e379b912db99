// BenchRegistry - every `wcfs bench` case; adding a case is one line here.
namespace Wcfs.Host.Cli;

internal static class BenchRegistry
{
    public static IReadOnlyList<IBenchCase> All { get; } =
    [
        new BenchStorageCommit(),
        new BenchStorageLoadBlock(),
        new BenchHistory(),
        new BenchVirtmemFault(),
        new BenchVirtmemWriteout(),
        new BenchFuseRead(),
        new BenchPin(),
        new BenchCommitHead(),
        new BenchReaders(),
        new BenchClientRead(),
        new BenchPostgresCommit(), new BenchPostgresLoadBlock(), new BenchPostgresNotify(), new BenchPostgresToast(),
        new BenchPostgresCommitHead(),
    ];
}
