using System.Runtime.Intrinsics;

namespace Recur.Kernels;

/// <summary>
/// Chooses the vector width of the fast kernels at run time and records which widths actually ran.
/// </summary>
/// <remarks>
/// The width follows the hardware (<c>Vector512/256/128.IsHardwareAccelerated</c>), so the runtime switches
/// <c>DOTNET_EnableAVX512=0</c>, <c>DOTNET_EnableAVX2=0</c> and <c>DOTNET_EnableHWIntrinsic=0</c> select the
/// 256-bit, 128-bit and scalar paths. Tests can also cap the width for the calling thread with
/// <see cref="Limit"/>, which lets one process exercise every path.
/// </remarks>
public static class SimdDispatch
{
    [ThreadStatic] private static SimdWidth limit;
    [ThreadStatic] private static SimdWidth forced;
    private static readonly long[] Runs = new long[17];

    /// <summary>The widest vector width the hardware (as the runtime reports it) accelerates.</summary>
    public static SimdWidth Hardware { get; } =
        Vector512.IsHardwareAccelerated ? SimdWidth.V512 :
        Vector256.IsHardwareAccelerated ? SimdWidth.V256 :
        Vector128.IsHardwareAccelerated ? SimdWidth.V128 : SimdWidth.Scalar;

    /// <summary>The width kernels called from this thread use now: <see cref="Hardware"/>, or less under <see cref="Limit"/>.</summary>
    public static SimdWidth Current => forced != 0 ? forced : limit != 0 && limit < Hardware ? limit : Hardware;

    /// <summary>
    /// Caps the width for kernels called from the current thread until the returned scope is disposed.
    /// A cap wider than the hardware has no effect. Meant for tests and benchmarks.
    /// </summary>
    public static Scope Limit(SimdWidth width)
    {
        if (!Enum.IsDefined(width))
            throw new ArgumentOutOfRangeException(nameof(width), width, "expected Scalar, V128, V256 or V512");
        var previous = limit;
        limit = width;
        return new Scope(previous);
    }

    /// <summary>
    /// Uses exactly <paramref name="width"/> on the current thread until disposed, even a width the hardware does
    /// not accelerate (the runtime then emulates it, slowly but exactly). Lets tests run every kernel path on any machine.
    /// </summary>
    internal static ForceScope Force(SimdWidth width)
    {
        if (!Enum.IsDefined(width))
            throw new ArgumentOutOfRangeException(nameof(width), width, "expected Scalar, V128, V256 or V512");
        var previous = forced;
        forced = width;
        return new ForceScope(previous);
    }

    internal readonly struct ForceScope : IDisposable
    {
        private readonly SimdWidth previous;
        internal ForceScope(SimdWidth previous) => this.previous = previous;
        public void Dispose() => forced = previous;
    }

    /// <summary>How many kernel calls have run with <paramref name="width"/> in this process.</summary>
    public static long RunCount(SimdWidth width) => Interlocked.Read(ref Runs[(int)width]);

    internal static void Record(SimdWidth width) => Interlocked.Increment(ref Runs[(int)width]);

    /// <summary>Restores the previous width cap when disposed.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly SimdWidth previous;
        internal Scope(SimdWidth previous) => this.previous = previous;
        /// <summary>Restores the previous cap.</summary>
        public void Dispose() => limit = previous;
    }
}
