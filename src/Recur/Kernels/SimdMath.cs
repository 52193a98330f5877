using System.Runtime.CompilerServices;

namespace Recur.Kernels;

/// <summary>
/// Activation functions written once over <see cref="ISimd{TV}"/>, so every vector width and the scalar tail
/// compute the same formula, with the same IEEE operations in the same order: the results do not depend on the width.
/// e^x is Cephes' expf polynomial scaled by one power of two built from the exponent bits (the argument is clamped
/// to [-87.34, 87.34], so the factor is always a normal float); tanh is one branch for every x (an expm1 form with no
/// cancellation near 0); each function has one IEEE divide.
/// </summary>
/// <remarks>
/// Maximum error against float64 over [-20, 20]: 2.5 ulp for both (measured maxima 2.48 ulp for sigmoid, at
/// x = -16.6, and 2.49 ulp for tanh, at |x| = 3.70, over every 7th float of each sign, 315 million inputs, plus edge
/// values; <c>Recur.Bench activation-ulps --stride 7</c>; docs/engine.md, "Cell math"). ActivationUlpTests
/// asserts 2.5 ulp over a subset of that sweep (every 126th float) and that every width gives the scalar path's bits.
/// </remarks>
internal static class SimdMath<TS, TV>
    where TS : struct, ISimd<TV>
    where TV : struct
{
    /// <summary>1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer held in the low mantissa bits.</summary>
    private const float RoundingMagic = 12582912f;

    /// <summary>
    /// e^x for x clamped to [-87.33654, 87.33654] (Cephes' expf polynomial): x = n ln2 + r with n = round(x log2 e)
    /// and |r| &lt;= ln2/2; returns q = e^r - 1 from the degree-6 polynomial and <paramref name="scale"/> = 2^n
    /// (n in [-126, 126], a normal float made from the exponent bits of the rounded sum). Then e^x = scale * q + scale
    /// and e^x - 1 = scale * q + (scale - 1), one FMA each, the second without the cancellation of e^x - 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ExpParts(TV x, out TV scale)
    {
        x = TS.Min(TS.Max(x, TS.Broadcast(-87.33654f)), TS.Broadcast(87.33654f));
        // t = n + 1.5 * 2^23 exactly: the FMA rounds x log2(e) to the nearest integer in one step.
        TV t = TS.MulAdd(x, TS.Broadcast(1.44269504088896341f), TS.Broadcast(RoundingMagic));
        TV n = TS.Sub(t, TS.Broadcast(RoundingMagic));
        // r = x - n ln2, with ln2 split in two (n * C1 is exact).
        TV r = TS.MulAdd(n, TS.Broadcast(-0.693359375f), x);
        r = TS.MulAdd(n, TS.Broadcast(2.12194440e-4f), r);
        TV p = TS.MulAdd(r, TS.Broadcast(1.9875691500e-4f), TS.Broadcast(1.3981999507e-3f));
        p = TS.MulAdd(p, r, TS.Broadcast(8.3334519073e-3f));
        p = TS.MulAdd(p, r, TS.Broadcast(4.1665795894e-2f));
        p = TS.MulAdd(p, r, TS.Broadcast(1.6666665459e-1f));
        p = TS.MulAdd(p, r, TS.Broadcast(5.0000001201e-1f));
        scale = TS.Pow2Rounded(t);
        return TS.MulAdd(p, TS.Mul(r, r), r);
    }

    /// <summary>
    /// sigmoid(x) = 1 / (1 + e^-x). Saturates cleanly: 1 for large x; for x below -87.3 it returns about
    /// 1 / (1 + e^87.3) = 1.2e-38, not a smaller value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid(TV x)
    {
        TV q = ExpParts(TS.Sub(TS.Zero, x), out TV scale);
        TV one = TS.Broadcast(1f);
        return TS.Div(one, TS.Add(TS.MulAdd(scale, q, scale), one));
    }

    /// <summary>
    /// tanh(x) in one branch for every x: tanh|x| = -z / (z + 2) with z = e^(-2|x|) - 1 in (-1, 0], computed as an
    /// expm1 (no cancellation near 0, so no separate polynomial for small |x|), and the sign of x copied back.
    /// Exactly +-1 beyond |x| = 9.1 (and for +-infinity).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh(TV x)
    {
        TV q = ExpParts(TS.Mul(TS.Broadcast(-2f), TS.Abs(x)), out TV scale);
        TV z = TS.MulAdd(scale, q, TS.Sub(scale, TS.Broadcast(1f)));
        return TS.CopySign(TS.Div(TS.Sub(TS.Zero, z), TS.Add(z, TS.Broadcast(2f))), x);
    }

    /// <summary>relu(x) = max(x, 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Relu(TV x) => TS.WherePositive(x, x);
}
