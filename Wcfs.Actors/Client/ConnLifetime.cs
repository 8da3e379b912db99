// ConnLifetime - the one flag the public Conn/FileH objects and ConnActor share: whether the conn is
// closed (then FileH/Mapping calls answer at once instead of asking a stopped actor).
namespace Wcfs.Actors.Client;

internal sealed class ConnLifetime
{
    private volatile string? _closedBecause;

    public bool IsClosed => _closedBecause is not null;

    public string? ClosedBecause => _closedBecause;

    public void MarkClosed(string why) => _closedBecause ??= why;

    public void ThrowIfClosed(string what)
    {
        if (_closedBecause is { } why)
            throw new ObjectDisposedException("Conn", $"{what}: the WCFS connection is closed ({why})");
    }
}
