namespace Wcfs.Actors.Tests.Support;

/// <summary>A private directory under the system temp dir, removed on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    /// <summary>Creates a fresh directory whose name starts with <paramref name="prefix"/>.</summary>
    public TempDirectory(string prefix = "wcfs-test")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Wcfs.Actors.Protocol.PrivateFiles.EnsurePrivateDirectory(Path); // 0700: a private mount root
    }

    /// <summary>The directory.</summary>
    public string Path { get; }

    /// <summary>A path inside the directory.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
