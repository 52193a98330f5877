using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Recur.Kernels;

/// <summary>A row kernel written once over <see cref="ISimd{TV}"/>; <see cref="VectorKernel.Run"/> picks the width.</summary>
internal interface IVectorKernel
{
    /// <summary>Processes rows [r0, r1) with vectors of <typeparamref name="TS"/>.</summary>
    void Rows<TS, TV>(int r0, int r1) where TS : struct, ISimd<TV> where TV : struct;
}

/// <summary>The one place that maps a <see cref="SimdWidth"/> to a specialised kernel body.</summary>
internal static class VectorKernel
{
    public static void Run<TK>(ref TK kernel, SimdWidth width, int r0, int r1) where TK : struct, IVectorKernel
    {
        SimdDispatch.Record(width);
        switch (width)
        {
            case SimdWidth.V512: kernel.Rows<Simd512, Vector512<float>>(r0, r1); break;
            case SimdWidth.V256: kernel.Rows<Simd256, Vector256<float>>(r0, r1); break;
            case SimdWidth.V128: kernel.Rows<Simd128, Vector128<float>>(r0, r1); break;
            default: kernel.Rows<Simd1, float>(r0, r1); break;
        }
    }

    /// <summary><c>y[0:n] += x[0:n]</c> with vectors of <typeparamref name="TS"/> and a scalar tail (one IEEE add per element).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void AddInPlace<TS, TV>(float* y, float* x, int n) where TS : struct, ISimd<TV> where TV : struct
    {
        int j = 0;
        if (TS.Count > 1)
            for (; j + TS.Count <= n; j += TS.Count) TS.Store(y + j, TS.Add(TS.Load(y + j), TS.Load(x + j)));
        for (; j < n; j++) y[j] += x[j];
    }
}
