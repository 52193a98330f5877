namespace Recur.Nn;

/// <summary>How <see cref="CtcLoss"/> reduces the per-sequence losses to one number (PyTorch's <c>reduction</c>).</summary>
public enum CtcReduction
{
    /// <summary>Each sequence's loss divided by its target length (at least 1), then the mean over the batch.</summary>
    Mean,
    /// <summary>The sum of the sequences' losses.</summary>
    Sum,
}
