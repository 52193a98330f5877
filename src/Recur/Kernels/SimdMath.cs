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
    /// <summary>sigmoid(x) = 1 / (1 + e^-x). Saturates cleanly: e^-x = inf gives 0, e^-x = 0 gives 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Sigmoid(TV x)
    {
        TV one = TS.Broadcast(1f);
        return TS.Div(one, TS.Add(one, TS.Exp(TS.Sub(TS.Zero, x))));
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
        TV z = TS.Sub(TS.Exp(TS.Mul(TS.Broadcast(-2f), y)), TS.Broadcast(1f));
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
