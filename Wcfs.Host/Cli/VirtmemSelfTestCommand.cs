// VirtmemSelfTestCommand - hidden `wcfs virtmem-selftest <case>`: provokes one unrecoverable fault so
// that tests (Wcfs.Actors.Tests/Virtmem/FaultHandlerTests) can check, in a child process, that the
// process ends the way VIRTMEM.md §6 says. Not for users; every case ends the process abnormally.
//
// Cases: outside (write to read-only memory that is not a VMA: the runtime's handler must see it),
// out-of-ram (more dirty pages than the RAM budget), unmapped (write to a disposed Vma), closed
// (write to an efaulted Vma), read-closed (read of an efaulted Vma).
using System.CommandLine;
using System.Runtime.InteropServices;
using Wcfs.Native.Interop;

namespace Wcfs.Host.Cli;

internal static partial class VirtmemSelfTestCommand
{
    public static Command Create()
    {
        var which = new Argument<string>("case") { Description = "outside | out-of-ram | unmapped | closed | read-closed" };
        var cmd = new Command("virtmem-selftest", "provoke an unrecoverable virtmem fault (tests only)") { Hidden = true };
        cmd.Arguments.Add(which);
        cmd.SetAction(r => Run(r.GetValue(which)!));
        return cmd;
    }

    private static unsafe int Run(string which)
    {
        Libc.SetRLimit(4 /* RLIMIT_CORE */, 0, 0); // a deliberate crash needs no core file
        VirtmemErrors.Check(VirtmemNative.Init(), "virtmem init");
        using var ram = VmRamHandle.Create(4096, 2);
        using var file = VmFileHandle.CreateZero(4096);
        using var fh = VmFileHHandle.Open(file, ram);
        var vma = VmaHandle.Map(fh, 0, 4);
        var span = new Span<byte>((void*)vma.Address, 4 * 4096);
        Console.Error.WriteLine($"selftest {which}: starting");
        switch (which)
        {
            case "outside":
                var ro = Libc.Mmap(0, 4096, 1 /* PROT_READ */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
                new Span<byte>((void*)ro, 4096)[0] = 1;
                break;
            case "out-of-ram":
                for (var i = 0; i < 4; i++)
                    span[i * 4096] = 1;
                break;
            case "unmapped":
                vma.Dispose();
                span[0] = 1;
                break;
            case "closed":
                VirtmemErrors.Check(VirtmemNative.VmaEfault(vma.DangerousGetHandle()), "efault");
                span[0] = 1;
                break;
            case "read-closed":
                VirtmemErrors.Check(VirtmemNative.VmaEfault(vma.DangerousGetHandle()), "efault");
                Console.Error.WriteLine(span[0]);
                break;
            default:
                Console.Error.WriteLine($"wcfs: unknown selftest case \"{which}\"");
                return WcfsCommandLine.ExitUsage;
        }
        Console.Error.WriteLine($"selftest {which}: the process survived");
        return WcfsCommandLine.ExitFailure;
    }

}
