using System.Runtime.CompilerServices;

namespace Recur.Kernels;

/// <summary>
/// Activation functions written once over <see cref="ISimd{TV}"/>, so every vector width and the scalar tail
/// compute the same formula.
/// </summary>
internal static class SimdMath<TS, TV>
    where TS : struct, ISimd<TV>
    where TV : struct
{
    /// <summary>
    /// e^x in float32 arithmetic only (Cephes' expf): x = n ln2 + r with |r| &lt;= ln2/2, e^r from a degree-6
    /// polynomial, scaled by 2^n through the exponent bits. About 1 ulp; x is clamped to [-87.3, 88.7], so results
    /// never overflow to infinity or become denormal (e^-87.3 = 1.2e-38). Several times cheaper than the BCL's
    /// vector Exp, which widens to float64, and the gate kernels evaluate five of these per hidden unit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Exp(TV x)
    {
        x = TS.Min(TS.Max(x, TS.Broadcast(-87.33654f)), TS.Broadcast(88.72283f));
        TV n = TS.Floor(TS.MulAdd(x, TS.Broadcast(1.44269504088896341f), TS.Broadcast(0.5f)));
        // r = x - n ln2, with ln2 split in two so that n * C1 is exact.
        TV r = TS.Sub(TS.Sub(x, TS.Mul(n, TS.Broadcast(0.693359375f))), TS.Mul(n, TS.Broadcast(-2.12194440e-4f)));
        TV p = TS.MulAdd(r, TS.Broadcast(1.9875691500e-4f), TS.Broadcast(1.3981999507e-3f));
        p = TS.MulAdd(p, r, TS.Broadcast(8.3334519073e-3f));
        p = TS.MulAdd(p, r, TS.Broadcast(4.1665795894e-2f));
        p = TS.MulAdd(p, r, TS.Broadcast(1.6666665459e-1f));
        p = TS.MulAdd(p, r, TS.Broadcast(5.0000001201e-1f));
        TV y = TS.Add(TS.MulAdd(p, TS.Mul(r, r), r), TS.Broadcast(1f));
        // n is in [-126, 128]; split 2^n = 2^(n/2 rounded down) * 2^(rest) so both factors are normal floats.
        TV n1 = TS.Floor(TS.Mul(n, TS.Broadcast(0.5f)));
        return TS.Mul(TS.Mul(y, TS.Pow2(n1)), TS.Pow2(TS.Sub(n, n1)));
    }

    /// <summary>sigmoid(x) = 1 / (1 + e^-x). Saturates cleanly: a huge e^-x gives (nearly) 0, e^-x = 0 gives 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid(TV x)
    {
        TV one = TS.Broadcast(1f);
        return TS.Div(one, TS.Add(one, Exp(TS.Sub(TS.Zero, x))));
    }

    /// <summary>
    /// tanh(x). For |x| &lt; 1/2 an odd Taylor polynomial through x^15 (truncation error below 5e-9, a sixth of a
    /// float ulp there); otherwise tanh(|x|) = -z / (z + 2) with z = e^(-2|x|) - 1 (as in AMD aocl-libm's tanhf,
    /// which TensorPrimitives also uses), where |z| &gt;= 0.63 so the subtraction loses little.
    /// The sign of x is copied back.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Tanh(TV x)
    {
        TV y = TS.Abs(x);
        TV z = TS.Sub(Exp(TS.Mul(TS.Broadcast(-2f), y)), TS.Broadcast(1f));
        TV large = TS.CopySign(TS.Div(TS.Sub(TS.Zero, z), TS.Add(z, TS.Broadcast(2f))), x);

        TV x2 = TS.Mul(x, x);
        // tanh x = x (1 - x^2/3 + 2x^4/15 - 17x^6/315 + 62x^8/2835 - 1382x^10/155925 + 21844x^12/6081075 - 929569x^14/638512875 ...)
        TV p = TS.MulAdd(x2, TS.Broadcast(-929569f / 638512875f), TS.Broadcast(21844f / 6081075f));
        p = TS.MulAdd(x2, p, TS.Broadcast(-1382f / 155925f));
        p = TS.MulAdd(x2, p, TS.Broadcast(62f / 2835f));
        p = TS.MulAdd(x2, p, TS.Broadcast(-17f / 315f));
        p = TS.MulAdd(x2, p, TS.Broadcast(2f / 15f));
        p = TS.MulAdd(x2, p, TS.Broadcast(-1f / 3f));
        TV small = TS.MulAdd(TS.Mul(x, x2), p, x);

        return TS.SelectLess(y, TS.Broadcast(0.5f), small, large);
    }

    /// <summary>relu(x) = max(x, 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Relu(TV x) => TS.WherePositive(x, x);
}
