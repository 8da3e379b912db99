// Dtype - the NumPy-like name of an element type, stored with every ZBigArray (ZBigArrayState.Dtype).
//
// Names are NumPy's for the types NumPy has ("float64", "int32", "bool", ...), in native (little-endian
// on every platform .NET runs wcfs on) byte order. Any other unmanaged struct is "V<size>", NumPy's
// name for raw records of that many bytes, so an array of structs can be reopened as any struct of
// the same size, and read from NumPy as raw bytes.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Wcfs.Actors.Arrays;

/// <summary>The NumPy-like dtype name of an unmanaged element type.</summary>
public static class Dtype
{
    /// <summary>
    /// The dtype name of <typeparamref name="T"/>: "bool", "int8".."int64", "uint8".."uint64",
    /// "float16", "float32", "float64", "complex128" (<see cref="Complex"/>); <see cref="char"/> is
    /// "uint16" (a UTF-16 code unit), <see cref="nint"/>/<see cref="nuint"/>
    /// are "int64"/"uint64" on 64-bit; every other struct is "V&lt;size&gt;".
    /// </summary>
    public static string NameOf<T>() where T : unmanaged => NameCache<T>.Name;

    /// <summary>True when an array stored with dtype <paramref name="name"/> can be viewed as <typeparamref name="T"/>:
    /// the same name, or a raw record "V&lt;size&gt;" of <typeparamref name="T"/>'s size.</summary>
    public static bool Matches<T>(string name) where T : unmanaged =>
        name == NameOf<T>() || name == $"V{Unsafe.SizeOf<T>()}";

    private static class NameCache<T> where T : unmanaged
    {
        public static readonly string Name = Compute();

        private static string Compute()
        {
            var t = typeof(T);
            if (t == typeof(bool)) return "bool";
            if (t == typeof(sbyte)) return "int8";
            if (t == typeof(byte)) return "uint8";
            if (t == typeof(short)) return "int16";
            if (t == typeof(ushort) || t == typeof(char)) return "uint16";
            if (t == typeof(int)) return "int32";
            if (t == typeof(uint)) return "uint32";
            if (t == typeof(long)) return "int64";
            if (t == typeof(ulong)) return "uint64";
            if (t == typeof(nint)) return IntPtr.Size == 8 ? "int64" : "int32";
            if (t == typeof(nuint)) return IntPtr.Size == 8 ? "uint64" : "uint32";
            if (t == typeof(Half)) return "float16";
            if (t == typeof(float)) return "float32";
            if (t == typeof(double)) return "float64";
            if (t == typeof(Complex)) return "complex128";
            return $"V{Unsafe.SizeOf<T>()}";
        }
    }
}
