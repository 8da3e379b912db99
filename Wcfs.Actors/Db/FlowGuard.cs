// FlowGuard - "one logical flow at a time" for a Connection (Connection invariant (1)).
//
// Every public entry of a connection and of its objects enters the guard for its whole duration
// (async calls until they complete). A second entry while one is active is a usage error reported
// at once, never a silent interleaving. Re-entry from the same flow is not supported: internal
// code calls the unguarded cores.
namespace Wcfs.Actors.Db;

internal sealed class FlowGuard
{
    private int _active;
    private string _what = "";

    public Scope Enter(string what)
    {
        if (Interlocked.CompareExchange(ref _active, 1, 0) != 0)
            throw new InvalidOperationException(
                $"connection used concurrently: '{what}' started while '{Volatile.Read(ref _what)}' is running; " +
                "a connection serves one logical flow at a time (open one connection per flow)");
        Volatile.Write(ref _what, what);
        return new Scope(this);
    }

    public readonly struct Scope(FlowGuard guard) : IDisposable
    {
        public void Dispose() => Volatile.Write(ref guard._active, 0);
    }
}
