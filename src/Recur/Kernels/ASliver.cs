using System.Runtime.CompilerServices;

namespace Recur.Kernels;

/// <summary>
/// Where a GEMM micro-kernel finds element (i, p) of its sliver of op(A): <c>a[RowOffset(i) + p * KStride]</c>.
/// The micro-kernels are generic over it, so the JIT compiles one copy per layout with the strides as constants
/// where the layout fixes them (the same pattern as <see cref="ISimd{TV}"/>).
/// </summary>
internal interface IASliver
{
    /// <summary>True when the sliver is rows of A as stored (row stride lda), false when it is packed (row stride 1).</summary>
    static abstract bool InPlace { get; }
}

/// <summary>A packed sliver of <c>mr</c> rows: element (i, p) at <c>a[p * mr + i]</c>, rows past the last zero-padded.</summary>
internal struct PackedSliver : IASliver
{
    public static bool InPlace => false;
}

/// <summary>
/// Rows of A read where they are stored: element (i, p) at <c>a[i * lda + p]</c>. A short sliver (rows &lt; mr) reads
/// its last valid row again in place of the missing ones (the kernel stores only the valid rows), so it never loads
/// memory past the last row of A.
/// </summary>
internal struct InPlaceSliver : IASliver
{
    public static bool InPlace => true;
}

/// <summary>Offsets of the rows of an <see cref="IASliver"/>.</summary>
internal static class ASliver
{
    /// <summary>
    /// Offset of row <paramref name="i"/> of a sliver with <paramref name="last"/> + 1 valid rows: <c>i</c> when packed,
    /// <c>min(i, last) * lda</c> in place.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint RowOffset<TA>(int i, int last, nint lda) where TA : struct, IASliver
        => TA.InPlace ? (i <= last ? i : last) * lda : i;
}
