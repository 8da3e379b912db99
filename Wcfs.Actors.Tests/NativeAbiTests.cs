// NativeAbiTests - the C# side of the ABI check. Wcfs.Native/native/tests/abi_layout.c is the one
// definition: compiled against the real headers, it prints every mirrored struct size, field offset
// and constant under its C# name; this test runs it and checks each line against the C#
// declarations. No number is written by hand on either side, so neither can drift.
using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests;

public class NativeAbiTests
{
    [Fact]
    public void Every_struct_layout_and_constant_that_CSharp_mirrors_matches_the_native_headers()
    {
        var lines = AbiLayoutLines();
        Assert.True(lines.Count >= 40, $"abi_layout printed only {lines.Count} lines:\n{string.Join('\n', lines)}");
        var wrong = lines.Select(Check).Where(e => e is not null).ToList();
        Assert.True(wrong.Count == 0, "C# declarations that differ from the native headers:\n" + string.Join('\n', wrong));
    }

    [Fact]
    public void A_layout_line_that_differs_from_the_CSharp_declaration_is_reported()
    {
        // the check itself can fail: one wrong number of each kind
        Assert.Contains("48", Check("size Wcfs.Native.Interop.WfuseAttr 40"));
        Assert.Contains("Mode", Check("offset Wcfs.Native.Interop.WfuseAttr Mode 20"));
        Assert.Contains("StoreRace", Check("const Wcfs.Native.Interop.VirtmemNative StoreRace -1"));
        Assert.Contains("not found", Check("const Wcfs.Native.Interop.VirtmemNative NoSuchConstant 1"));
        Assert.Null(Check("size Wcfs.Native.Interop.WfuseAttr 48"));
    }

    /// <summary>null if the line holds for the C# declaration, else what differs.</summary>
    private static string? Check(string line)
    {
        var w = line.Split(' ');
        var type = FindType(w[1]);
        if (type is null)
            return $"{line}: C# type {w[1]} not found";
        switch (w[0])
        {
            case "size":
                var marshal = Marshal.SizeOf(type);
                var managed = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
                var want = int.Parse(w[2], System.Globalization.CultureInfo.InvariantCulture);
                return marshal == want && managed == want ? null : $"{line}: C# {type.Name} is {marshal} bytes marshalled, {managed} in memory";
            case "offset":
                if (type.GetField(w[2], BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance) is null)
                    return $"{line}: field {w[2]} not found in C# {type.Name}";
                var off = (long)Marshal.OffsetOf(type, w[2]);
                return off == long.Parse(w[3], System.Globalization.CultureInfo.InvariantCulture) ? null : $"{line}: C# {type.Name}.{w[2]} is at {off}";
            case "const":
                var f = type.GetField(w[2], BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static);
                if (f is null || !f.IsLiteral)
                    return $"{line}: constant {w[2]} not found in C# {type.Name}";
                var value = Convert.ToInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture);
                return value == long.Parse(w[3], System.Globalization.CultureInfo.InvariantCulture) ? null : $"{line}: C# {type.Name}.{w[2]} is {value}";
            default:
                return $"{line}: unknown kind {w[0]}";
        }
    }

    private static Type? FindType(string name) =>
        new[] { typeof(object).Assembly, typeof(VirtmemNative).Assembly, typeof(Wcfs.Actors.Virtmem.VirtmemMode).Assembly }
            .Select(a => a.GetType(name)).FirstOrDefault(t => t is not null);

    /// <summary>Runs the abi_layout program of the native build (bounded) and returns its lines.</summary>
    private static List<string> AbiLayoutLines()
    {
        var exe = NativeBuildFile("abi_layout");
        using var p = Process.Start(new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(Support.TestTimeouts.Default), $"{exe} did not exit within {Support.TestTimeouts.Default}");
        Assert.True(p.ExitCode == 0, $"{exe} exited with {p.ExitCode}: {error.Result}");
        return [.. output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    /// <summary>A file of the native build (Wcfs.Native/native/build/Release), found from the test's directory up.</summary>
    private static string NativeBuildFile(string name)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "Wcfs.Native", "native", "build", "Release", name);
            if (File.Exists(p))
                return p;
        }
        throw new FileNotFoundException($"{name} of the native build not found above {AppContext.BaseDirectory}: build the solution (it runs CMake)");
    }
}
