// Persistent - the base of every object a Connection loads and stores (API.md §1): ZBigFile,
// ZBigArray<T> and the Root.
//
// States of one object in its connection (one flow at a time, Connection invariant (1)):
//
//   state     | event                      | next      | done by
//   ----------+----------------------------+-----------+------------------------------
//   new       | commit succeeds            | loaded    | AfterCommit
//   new       | abort, failed commit       | detached  | AfterAbort (never stored; use throws)
//   ghost     | state read                 | loaded    | CurrentState (storage as of At)
//   loaded    | SetState                   | modified  | SetState (registered with the connection)
//   loaded    | At moves (commit/abort)    | ghost     | Ghostify (others' commits show on next read)
//   modified  | commit succeeds            | loaded    | AfterCommit
//   modified  | abort, failed commit       | ghost     | AfterAbort
//
// Always-on check: a detached object refuses every use (ThrowIfDetached).
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Db;

/// <summary>An object stored in a <see cref="Database"/>, seen through one <see cref="Db.Connection"/>.</summary>
public abstract class Persistent
{
    private ObjectState? _state;

    private protected Persistent(Connection connection, Oid oid, ObjectState? state, bool isNew)
    {
        Connection = connection;
        Oid = oid;
        _state = state;
        IsNew = isNew;
        if (isNew)
        {
            IsModified = true;
            connection.Register(this);
        }
    }

    /// <summary>The object's id (allocated at creation, visible to others from the commit that adds it).</summary>
    public Oid Oid { get; }

    /// <summary>The connection this object belongs to.</summary>
    public Connection Connection { get; }

    /// <summary>True while the object was created in the current transaction and not committed yet.</summary>
    public bool IsNew { get; private set; }

    internal bool IsModified { get; private set; }

    internal bool IsDetached { get; private set; }

    /// <summary>The state as of the connection's At (loaded on first use) or as modified in this transaction.</summary>
    internal ObjectState CurrentState
    {
        get
        {
            ThrowIfDetached();
            if (_state is null)
            {
                var s = Connection.LoadState(Oid)
                    ?? throw new InvalidOperationException($"object {Oid} does not exist as of @{Connection.At} (deleted by another transaction?)");
                CheckState(s);
                _state = s;
            }
            return _state;
        }
    }

    /// <summary>Throws if <paramref name="state"/> is not a state of this object's kind.</summary>
    private protected abstract void CheckState(ObjectState state);

    /// <summary>Replaces the state in this transaction; written at commit.</summary>
    internal void SetState(ObjectState state)
    {
        ThrowIfDetached();
        CheckState(state);
        _state = state;
        if (!IsModified)
        {
            IsModified = true;
            Connection.Register(this);
        }
    }

    internal void Ghostify()
    {
        if (!IsModified)
        {
            _state = null;
            OnGhostified();
        }
    }

    /// <summary>Drops what the subclass derived from the state.</summary>
    private protected virtual void OnGhostified()
    {
    }

    internal void AfterCommit()
    {
        IsModified = false;
        IsNew = false;
    }

    internal void AfterAbort()
    {
        if (IsNew)
            IsDetached = true;
        IsModified = false;
        Ghostify();
    }

    internal void ThrowIfDetached()
    {
        if (IsDetached)
            throw new InvalidOperationException($"{GetType().Name} {Oid} was created in a transaction that was aborted: it was never stored");
    }
}
