// VirtmemActor - owner of the dirty-page state of every BigFileH (VIRTMEM.md, ARCHITECTURE.md §3).
//
// What it owns: the RAM (one memfd, wcfs.virtmem.ram-limit) and every native handle (vm_fileh_t:
// the page table whose dirty bits are the authoritative state; allocated on Open, freed on Close).
// It runs writeout (STORE in ascending page order through the file's storeblk, then MARKSTORED)
// and discard. It does NOT own: page faults and address-space changes (the native mmap actor,
// Wcfs.Native/native/src/core/mmap_actor.c), mappings (Vma, disposed by users).
//
// Invariants:
//  (1) a handle's native state is freed only through Close or PostStop (SafeHandle ref-counts keep
//      it alive while a Vma of it is mapped);
//  (2) a writeout that fails (storeblk throws, a page written between STORE and MARKSTORED) leaves
//      the handle Idle with its pages dirty: it stays usable and Discard works;
//  (3) storeblk is called only here, on this actor's thread, never from the fault path.
//
// Threading: runs on the dedicated dispatcher wcfs.virtmem.dispatcher because the native calls wait
// for the native mmap actor and storeblk may do I/O. The native side never waits on this actor.
using Akka.Actor;
using Akka.Event;
using Wcfs.Actors.Diagnostics;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;
using static Wcfs.Actors.Virtmem.VirtmemProtocol;

namespace Wcfs.Actors.Virtmem;

internal sealed class VirtmemActor : ReceiveActor
{
    private readonly VirtmemProtocol.Settings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private VmRamHandle? _ram;
    private IDisposable? _ramMetrics;
    private VirtmemState _state = VirtmemState.Empty;

    public VirtmemActor(VirtmemProtocol.Settings settings)
    {
        _settings = settings;
        Receive<Open>(Handle);
        Receive<Writeout>(Handle);
        Receive<Discard>(Handle);
        Receive<VirtmemProtocol.IsDirty>(Handle);
        Receive<Close>(Handle);
    }

    protected override void PreStart()
    {
        VirtmemErrors.Check(VirtmemNative.Init(), "install the virtmem fault handler");
        _ram = VmRamHandle.Create(_settings.PageSize, _settings.RamLimit / _settings.PageSize, _settings.HugePages);
        _ramMetrics = WcfsMetrics.ObserveRam(_ram);
        if (_settings.HugePages && _settings.PageSize % (2L << 20) == 0)
            _log.Debug(_ram.HugeStats().Enabled
                ? "virtmem: dirty pages take 2 MiB huge pages while the kernel has free ones (wcfs.virtmem.huge-pages)"
                : "virtmem: the kernel offers no huge pages (vm.nr_hugepages has none free): dirty pages use ordinary memory");
    }

    protected override void PostStop()
    {
        foreach (var e in _state.Handles.Values)
            e.Native.Dispose(); // invariant (1): the native close waits for the handle's last Vma
        _ramMetrics?.Dispose();
        _ram?.Dispose();
    }

    private void Handle(Open m)
    {
        try
        {
            var native = VmFileHHandle.Open(m.File.Native, _ram!);
            (_state, var id) = _state.Add(m.File, native);
            Sender.Tell(new Opened(new BigFileH(id, m.File, native, _ram!, (int)_settings.PageSize, Self, _settings.AskTimeout)));
        }
        catch (Exception e) when (e is VirtmemException or ArgumentException or InvalidOperationException)
        {
            Sender.Tell(new Failed("open", e));
        }
    }

    private void Handle(Writeout m)
    {
        if (_state.CheckWriteout(m.Handle, m.Flags) is { } usage)
        {
            Sender.Tell(new WriteoutFailed(m.Handle, new InvalidOperationException(usage)));
            return;
        }
        var e = _state.Find(m.Handle)!;
        long stored = 0;
        try
        {
            if (m.Flags.HasFlag(WriteoutFlags.Store))
            {
                stored = Store(e);
                _state = _state.WithPhase(m.Handle, WritePhase.Stored);
            }
            if (m.Flags.HasFlag(WriteoutFlags.MarkStored))
            {
                _state = _state.WithPhase(m.Handle, WritePhase.Idle);
                VirtmemErrors.Check(VirtmemNative.WriteoutMarkStored(e.Native.DangerousGetHandle()), $"writeout MARKSTORED of {m.Handle}");
            }
            Sender.Tell(new WriteoutDone(m.Handle, stored));
        }
        catch (Exception ex)
        {
            // invariant (2); storeblk is user code, so any exception fails only this writeout
            VirtmemNative.WriteoutCancel(e.Native.DangerousGetHandle());
            _state = _state.WithPhase(m.Handle, WritePhase.Idle);
            _log.Warning("writeout of {Handle} failed: {Error}", m.Handle, ex.Message);
            Sender.Tell(new WriteoutFailed(m.Handle, ex));
        }
    }

    /// <summary>STORE: storeblk for every dirty page in ascending order (invariant 3).</summary>
    private unsafe long Store(HandleEntry e)
    {
        var fh = e.Native.DangerousGetHandle();
        var cap = 64;
        while (true)
        {
            var pages = new ulong[cap];
            var ram = new nint[cap];
            long n;
            fixed (ulong* pp = pages)
            fixed (nint* rp = ram)
                n = VirtmemErrors.Check(VirtmemNative.WriteoutStore(fh, pp, rp, (ulong)cap), "writeout STORE");
            if (n > cap)
            {
                cap = (int)Math.Min(int.MaxValue, n * 2);
                continue;
            }
            var ps = _settings.PageSize;
            var bs = e.File.BlockSize;
            for (var i = 0; i < n; i++)
            {
                var off = (long)pages[i] * ps;
                e.File.Store!.StoreBlock(new BlockNumber(off / bs), off % bs, new ReadOnlySpan<byte>((void*)ram[i], (int)ps));
            }
            return n;
        }
    }

    private void Handle(Discard m)
    {
        if (_state.Find(m.Handle) is not { } e)
        {
            Sender.Tell(new Failed("discard", new InvalidOperationException($"{m.Handle} is not open")));
            return;
        }
        _state = _state.WithPhase(m.Handle, WritePhase.Idle);
        try
        {
            VirtmemErrors.Check(VirtmemNative.Discard(e.Native.DangerousGetHandle()), $"discard {m.Handle}");
            Sender.Tell(new Discarded(m.Handle));
        }
        catch (VirtmemException ex)
        {
            Sender.Tell(new Failed("discard", ex));
        }
    }

    private void Handle(VirtmemProtocol.IsDirty m)
    {
        if (_state.Find(m.Handle) is not { } e)
            Sender.Tell(new Failed("is-dirty", new InvalidOperationException($"{m.Handle} is not open")));
        else
            Sender.Tell(new DirtyState(m.Handle, VirtmemNative.FileHDirtyCount(e.Native.DangerousGetHandle())));
    }

    private void Handle(Close m)
    {
        if (_state.Find(m.Handle) is { } e)
        {
            _state = _state.Remove(m.Handle);
            e.Native.Dispose(); // invariant (1)
        }
        Sender.Tell(new Closed(m.Handle));
    }
}
