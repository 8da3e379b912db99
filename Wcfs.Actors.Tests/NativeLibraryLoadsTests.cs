using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests;

public class NativeLibraryLoadsTests
{
    [Fact]
    public void Native_library_loads_and_reports_the_expected_abi_version()
    {
        Assert.Equal(NativeLibraries.ExpectedAbiVersion, NativeLibraries.AbiVersion());
        NativeLibraries.EnsureCompatible();
    }

    [Fact]
    public void Fuse_shim_loads_and_runs_against_libfuse_3()
    {
        var v = NativeLibraries.FuseLibVersion();
        Assert.InRange(v, 310, 399);
    }
}
