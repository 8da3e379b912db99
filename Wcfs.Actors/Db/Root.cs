// Root - the root object (oid 0) of a connection: names → persistent objects (API.md §1).
using System.Diagnostics.CodeAnalysis;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Db;

/// <summary>The named entry points of the database, as of the connection's At.</summary>
public sealed class Root : Persistent
{
    internal Root(Connection connection) : base(connection, Oid.Root, null, isNew: false)
    {
    }

    private RootState Names => (RootState)CurrentState;

    /// <summary>The object named <paramref name="name"/>; setting stores the name at commit.</summary>
    /// <exception cref="KeyNotFoundException">No object has that name as of At.</exception>
    /// <exception cref="ArgumentException">The object belongs to another connection or was never stored.</exception>
    public Persistent this[string name]
    {
        get => Get<Persistent>(name);
        set => Set(name, value);
    }

    /// <summary>The names, in ordinal order.</summary>
    public IReadOnlyList<string> Keys
    {
        get
        {
            using var flow = Connection.EnterFlow("read root names");
            return [.. Names.Names.Keys];
        }
    }

    /// <summary>True if <paramref name="name"/> names an object.</summary>
    public bool ContainsKey(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        using var flow = Connection.EnterFlow($"read root name '{name}'");
        return Names.Names.ContainsKey(name);
    }

    /// <summary>The object named <paramref name="name"/> as a <typeparamref name="T"/>.</summary>
    /// <exception cref="KeyNotFoundException">No object has that name as of At.</exception>
    /// <exception cref="InvalidCastException">The object is not a <typeparamref name="T"/> (the message names both).</exception>
    public T Get<T>(string name) where T : Persistent =>
        TryGet<T>(name, out var value) ? value
            : throw new KeyNotFoundException($"root has no object named '{name}' as of @{Connection.At}");

    /// <summary>The object named <paramref name="name"/>, if any.</summary>
    /// <exception cref="InvalidCastException">The object is not a <typeparamref name="T"/>.</exception>
    public bool TryGet<T>(string name, [NotNullWhen(true)] out T? value) where T : Persistent
    {
        ArgumentNullException.ThrowIfNull(name);
        using var flow = Connection.EnterFlow($"read root name '{name}'");
        if (!Names.Names.TryGetValue(name, out var oid))
        {
            value = null;
            return false;
        }
        value = Connection.GetObject<T>(oid);
        return true;
    }

    /// <summary>Removes the name (the object itself stays stored); false if there was none.</summary>
    public bool Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        using var flow = Connection.EnterFlow($"remove root name '{name}'");
        var names = Names;
        if (!names.Names.ContainsKey(name))
            return false;
        SetState(new RootState(names.Names.Remove(name)));
        return true;
    }

    private void Set(string name, Persistent value)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(value);
        if (!ReferenceEquals(value.Connection, Connection))
            throw new ArgumentException($"{value.GetType().Name} {value.Oid} belongs to another connection: load it through this one", nameof(value));
        if (value is Root)
            throw new ArgumentException("the root cannot be stored under a name", nameof(value));
        value.ThrowIfDetached();
        using var flow = Connection.EnterFlow($"set root name '{name}'");
        var names = Names;
        if (names.Names.TryGetValue(name, out var old) && old == value.Oid)
            return;
        SetState(new RootState(names.Names.SetItem(name, value.Oid)));
    }

    private protected override void CheckState(ObjectState state)
    {
        if (state is not RootState)
            throw new InvalidOperationException($"object {Oid} is a {state.GetType().Name}, not the root");
    }
}
