namespace Recur.Kernels;

/// <summary>Whether a GEMM operand is used as stored (<see cref="No"/>) or transposed (<see cref="Yes"/>), as in BLAS.</summary>
public enum Transpose
{
    /// <summary>op(X) = X.</summary>
    No,
    /// <summary>op(X) = X^T.</summary>
    Yes,
}
