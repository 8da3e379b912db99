// ActorFailure - how an exception an actor replied with (Status.Failure, a Failed record) reaches the
// caller of the edge API: rethrown as itself with the stack it had in the actor, the caller's frames
// appended (ExceptionDispatchInfo), so a user's log shows where in the runtime it failed.
using System.Runtime.ExceptionServices;

namespace Wcfs.Actors.Protocol;

/// <summary>Rethrows an actor's failure with its stack.</summary>
internal static class ActorFailure
{
    /// <summary>Throws <paramref name="cause"/> with its original stack; written <c>throw ActorFailure.Rethrow(e)</c>
    /// so that the compiler sees a throw (it never returns).</summary>
    public static Exception Rethrow(Exception cause)
    {
        ExceptionDispatchInfo.Capture(cause).Throw();
        return cause; // unreachable
    }
}
