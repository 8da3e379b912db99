// VirtmemProtocol - messages, settings and Props of VirtmemActor (STYLE.md "Actors").
//
//   C: Open(file)                 S: Opened(handle)                | Failed
//   C: Writeout(h, Store|MarkStored)  S: WriteoutDone(h, pages)    | WriteoutFailed(h, cause)
//   C: Discard(h)                 S: Discarded(h)                  | Failed
//   C: IsDirty(h)                 S: DirtyState(h, pages)          | Failed
//   C: Close(h)                   S: Closed(h)                     | Failed
using Akka.Actor;
using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;

namespace Wcfs.Actors.Virtmem;

/// <summary>Identifies one BigFileH inside its VirtmemActor.</summary>
public readonly record struct FileHandleId(long Value)
{
    /// <summary>"fh#N".</summary>
    public override string ToString() => $"fh#{Value}";
}

/// <summary>The two phases of writeout (VIRTMEM.md §3); both together in one call is the usual case.</summary>
[Flags]
public enum WriteoutFlags
{
    /// <summary>storeblk every dirty page in ascending order; pages stay dirty (and read-only until MARKSTORED).</summary>
    Store = 1,

    /// <summary>Dirty pages become clean (overlay: the base is mapped back, RAM freed).</summary>
    MarkStored = 2,
}

/// <summary>The message protocol of VirtmemActor, its settings and its Props.</summary>
public static class VirtmemProtocol
{
    /// <summary>The dispatcher VirtmemActor runs on (reference.conf).</summary>
    public const string DispatcherId = "wcfs.virtmem.dispatcher";

    /// <summary>Opens a handle of <paramref name="File"/>. Reply: <see cref="Opened"/> or <see cref="Failed"/>.</summary>
    public sealed record Open(BigFile File);

    /// <summary>The new handle.</summary>
    public sealed record Opened(BigFileH Handle);

    /// <summary>Runs writeout. Reply: <see cref="WriteoutDone"/> or <see cref="WriteoutFailed"/>.</summary>
    public sealed record Writeout(FileHandleId Handle, WriteoutFlags Flags);

    /// <summary>Writeout finished; <paramref name="PagesStored"/> storeblk calls were made.</summary>
    public sealed record WriteoutDone(FileHandleId Handle, long PagesStored);

    /// <summary>Writeout failed; the handle stays usable, its pages stay dirty.</summary>
    public sealed record WriteoutFailed(FileHandleId Handle, Exception Cause);

    /// <summary>Drops every dirty page. Reply: <see cref="Discarded"/>.</summary>
    public sealed record Discard(FileHandleId Handle);

    /// <summary>All dirty pages are gone.</summary>
    public sealed record Discarded(FileHandleId Handle);

    /// <summary>Asks for the dirty state. Reply: <see cref="DirtyState"/>.</summary>
    public sealed record IsDirty(FileHandleId Handle);

    /// <summary>Number of dirty pages.</summary>
    public sealed record DirtyState(FileHandleId Handle, long DirtyPages);

    /// <summary>Closes the handle (its VMAs first); dirty pages are dropped. Reply: <see cref="Closed"/>.</summary>
    public sealed record Close(FileHandleId Handle);

    /// <summary>The handle is closed.</summary>
    public sealed record Closed(FileHandleId Handle);

    /// <summary>A request other than writeout failed.</summary>
    public sealed record Failed(string Operation, Exception Cause);

    /// <summary>Settings of one VirtmemActor.</summary>
    /// <param name="PageSize">Dirty-page granularity in bytes (<c>wcfs.client.page-size</c>).</param>
    /// <param name="RamLimit">RAM budget in bytes (<c>wcfs.virtmem.ram-limit</c>).</param>
    /// <param name="AskTimeout">Timeout of the edge API (<c>wcfs.virtmem.ask-timeout</c>).</param>
    /// <param name="HugePages">Dirty pages in huge pages when the kernel offers them (<c>wcfs.virtmem.huge-pages</c>).</param>
    public sealed record Settings(long PageSize, long RamLimit, TimeSpan AskTimeout, bool HugePages = true)
    {
        /// <summary>The reference.conf defaults.</summary>
        public static Settings Default { get; } = From(WcfsSettings.Default);

        /// <summary>The settings of a VirtmemActor of <paramref name="pageSize"/>-byte pages (default:
        /// <c>wcfs.client.page-size</c>) from the runtime's one settings object.</summary>
        public static Settings From(WcfsSettings settings, long? pageSize = null) =>
            new(pageSize ?? settings.Client.PageSize, settings.Virtmem.RamLimit, settings.Virtmem.AskTimeout, settings.Virtmem.HugePages);
    }

    /// <summary>Props of a VirtmemActor on its dedicated dispatcher.</summary>
    public static Props Props(Settings settings) =>
        Akka.Actor.Props.Create(() => new VirtmemActor(settings)).WithDispatcher(DispatcherId);

    /// <summary>Opens a handle of <paramref name="file"/> through <paramref name="virtmem"/> (edge API).</summary>
    public static async Task<BigFileH> OpenAsync(IActorRef virtmem, BigFile file, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        await virtmem.Ask<object>(new Open(file), timeout, cancellationToken).ConfigureAwait(false) switch
        {
            Opened o => o.Handle,
            Failed f => throw ActorFailure.Rethrow(f.Cause),
            var other => throw new InvalidOperationException($"unexpected reply to Open: {other}"),
        };
}
