using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Recur.Kernels;

/// <summary>
/// The vector moves of GEMM packing: 8 x 8 register transposes (AVX) for the panels of a transposed B and the
/// slivers of an untransposed A. Packing only moves floats, so it is exact whichever path runs; the scalar loops
/// stay for the corners the blocks do not cover and for machines without AVX.
/// </summary>
internal static unsafe class PackTranspose
{
    /// <summary>Whether the AVX transposes run here.</summary>
    public static bool Vectorised => Avx.IsSupported && Enabled;

    /// <summary>
    /// Tests turn the transposes off to compare them with the scalar loops (packing is exact, so results are equal
    /// either way; flipping it while a product runs changes nothing).
    /// </summary>
    internal static bool Enabled = true;

    /// <summary>Transposes the 8 x 8 block of rows r0..r7 in place: on return r_q holds column q.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        r0 = Avx.Permute2x128(u0, u4, 0x20); r1 = Avx.Permute2x128(u1, u5, 0x20);
        r2 = Avx.Permute2x128(u2, u6, 0x20); r3 = Avx.Permute2x128(u3, u7, 0x20);
        r4 = Avx.Permute2x128(u0, u4, 0x31); r5 = Avx.Permute2x128(u1, u5, 0x31);
        r6 = Avx.Permute2x128(u2, u6, 0x31); r7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>
    /// dst[p * ldd + j] = src[j * lds + p] for p in [0, 8), j in [0, 8): eight rows of <paramref name="src"/> become
    /// eight columns of <paramref name="dst"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block8(float* src, long lds, float* dst, long ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2 * lds); var r3 = Avx.LoadVector256(src + 3 * lds);
        var r4 = Avx.LoadVector256(src + 4 * lds); var r5 = Avx.LoadVector256(src + 5 * lds);
        var r6 = Avx.LoadVector256(src + 6 * lds); var r7 = Avx.LoadVector256(src + 7 * lds);
        Transpose8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
        Avx.Store(dst, r0); Avx.Store(dst + ldd, r1); Avx.Store(dst + 2 * ldd, r2); Avx.Store(dst + 3 * ldd, r3);
        Avx.Store(dst + 4 * ldd, r4); Avx.Store(dst + 5 * ldd, r5); Avx.Store(dst + 6 * ldd, r6); Avx.Store(dst + 7 * ldd, r7);
    }

    /// <summary>
    /// dst[p * ldd + i] = src[i * lds + p] for p in [0, 8), i in [0, 6): eight columns of six rows into a sliver of
    /// <paramref name="ldd"/> rows (the micro-kernel's A layout: <see cref="Gemm.MR"/> = 6, or half of a 12-row one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sliver6x8(float* src, long lds, float* dst, long ldd = 6)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2 * lds); var r3 = Avx.LoadVector256(src + 3 * lds);
        var r4 = Avx.LoadVector256(src + 4 * lds); var r5 = Avx.LoadVector256(src + 5 * lds);
        var r6 = Vector256<float>.Zero; var r7 = Vector256<float>.Zero;
        Transpose8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
        Store6(dst, r0); Store6(dst + ldd, r1); Store6(dst + 2 * ldd, r2); Store6(dst + 3 * ldd, r3);
        Store6(dst + 4 * ldd, r4); Store6(dst + 5 * ldd, r5); Store6(dst + 6 * ldd, r6); Store6(dst + 7 * ldd, r7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store6(float* dst, Vector256<float> v)
    {
        Sse.Store(dst, v.GetLower());
        Unsafe.WriteUnaligned(dst + 4, v.GetUpper().AsDouble().ToScalar());
    }

    /// <summary>dst[0..6) = src[0..6).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy6(float* src, float* dst)
    {
        Sse.Store(dst, Sse.LoadVector128(src));
        Unsafe.WriteUnaligned(dst + 4, Unsafe.ReadUnaligned<double>(src + 4));
    }

    /// <summary>dst[0..8) = src[0..8).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy8(float* src, float* dst) => Avx.Store(dst, Avx.LoadVector256(src));
}
