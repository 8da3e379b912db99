// NativeLibraries - names of the native libraries and the ABI handshake.
//
// Both libraries are built by CMake from Wcfs.Native/native and copied next to the assemblies.
// wcfs_native is loaded by every client; wcfs_fuse only by the WCFS server process.
using System.Runtime.InteropServices;

namespace Wcfs.Native.Interop;

/// <summary>Names of the native libraries and the ABI version check.</summary>
public static partial class NativeLibraries
{
    /// <summary>The client data-plane library (fault handler, mmap actor, pinner).</summary>
    public const string Core = "wcfs_native";

    /// <summary>The libfuse3 shim used by the server.</summary>
    public const string Fuse = "wcfs_fuse";

    /// <summary>The ABI version this assembly was written against (WCFS_ABI_VERSION).</summary>
    public const int ExpectedAbiVersion = 2;

    [LibraryImport(Core, EntryPoint = "wcfs_abi_version")]
    private static partial int AbiVersionNative();

    [LibraryImport(Fuse, EntryPoint = "wfuse_lib_version")]
    private static partial int FuseLibVersionNative();

    /// <summary>The ABI version reported by the loaded native library.</summary>
    public static int AbiVersion() => AbiVersionNative();

    /// <summary>The libfuse version the server shim runs against (e.g. 314).</summary>
    public static int FuseLibVersion() => FuseLibVersionNative();

    /// <summary>Throws if the loaded native library does not match this assembly.</summary>
    public static void EnsureCompatible()
    {
        var v = AbiVersion();
        if (v != ExpectedAbiVersion)
            throw new InvalidOperationException(
                $"libwcfs_native.so has ABI version {v}, expected {ExpectedAbiVersion}: rebuild the solution (dotnet build wcfs-actors.sln)");
    }
}
