// SqliteFile - one-statement access to an SQLite file from tests, beside the storage under test
// (a connection of its own, no pooling, so nothing stays open after the call).
using Microsoft.Data.Sqlite;

namespace Wcfs.Actors.Tests.Support;

internal static class SqliteFile
{
    /// <summary>The first column of the first row as a number (0 for NULL or no row), read-only.</summary>
    public static long Scalar(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar() is { } v and not DBNull ? Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Runs <paramref name="sql"/> read-write.</summary>
    public static void Exec(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
