// ApiConventionsTests - the guard of the API conventions (issue 14, "API conventions") over the
// public surface of the library assemblies (Wcfs.Actors and Wcfs.Native):
//   - every public method that returns Task/ValueTask (with or without a result) takes a
//     CancellationToken (DisposeAsync excepted: IAsyncDisposable's signature has none);
//   - every public exception type lives in the namespace of the API that throws it, never in an
//     *.Interop namespace (Interop is the native boundary, no place a user looks for a type to catch).
// ConfigureAwait(false) in library code is guarded by the analyzer CA2007 (an error in the library
// projects: Directory.Build.props).
using System.Reflection;
using Wcfs.Actors.Db;
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests;

public sealed class ApiConventionsTests
{
    private static readonly Assembly[] Libraries = [typeof(Database).Assembly, typeof(NativeLibraries).Assembly];

    [Fact]
    public void Every_public_async_method_of_the_library_takes_a_cancellation_token()
    {
        var missing = (
            from t in PublicTypes()
            from m in t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            where IsAsync(m.ReturnType) && m.Name != nameof(IAsyncDisposable.DisposeAsync) && !m.IsSpecialName
            where !m.GetParameters().Any(p => p.ParameterType == typeof(CancellationToken))
            select $"{t.FullName}.{m.Name}").ToList();
        Assert.True(missing.Count == 0, "public async methods without a CancellationToken: " + string.Join(", ", missing));
    }

    [Fact]
    public void No_public_exception_type_lives_in_an_interop_namespace()
    {
        var exceptions = PublicTypes().Where(t => typeof(Exception).IsAssignableFrom(t)).ToList();
        Assert.Contains(exceptions, t => t.Name == "WcfsServerGoneException"); // the check sees Wcfs.Native's exceptions
        var wrong = exceptions.Where(t => t.Namespace is null || t.Namespace.Split('.').Contains("Interop")).Select(t => t.FullName).ToList();
        Assert.True(wrong.Count == 0, "public exceptions in an Interop namespace: " + string.Join(", ", wrong));
    }

    [Fact]
    public void The_exceptions_of_the_client_and_virtmem_apis_are_in_their_namespaces()
    {
        Assert.Equal("Wcfs.Actors.Client", typeof(Wcfs.Actors.Client.WcfsClientException).Namespace);
        Assert.Equal("Wcfs.Actors.Client", typeof(Wcfs.Actors.Client.WcfsServerGoneException).Namespace);
        Assert.Equal("Wcfs.Actors.Virtmem", typeof(Wcfs.Actors.Virtmem.VirtmemException).Namespace);
        Assert.Equal("Wcfs.Actors.Virtmem", typeof(Wcfs.Actors.Virtmem.VirtmemMapLimitException).Namespace);
    }

    private static IEnumerable<Type> PublicTypes() => Libraries.SelectMany(a => a.GetExportedTypes());

    private static bool IsAsync(Type t) =>
        t == typeof(Task) || t == typeof(ValueTask)
        || (t.IsGenericType && (t.GetGenericTypeDefinition() == typeof(Task<>) || t.GetGenericTypeDefinition() == typeof(ValueTask<>)));
}
