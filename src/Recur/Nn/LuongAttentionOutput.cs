using Recur.Tensors;

namespace Recur.Nn;

/// <summary>The result of <see cref="LuongAttention.Forward(AttentionMemory, Tensor)"/>: [c; h], the weights, and what the backward reads.</summary>
public sealed class LuongAttentionOutput
{
    private readonly LuongAttention layer;

    internal LuongAttentionOutput(LuongAttention layer, AttentionMemory memory, Tensor queries, Tensor weights, Tensor output)
    {
        this.layer = layer;
        Memory = memory;
        Queries = queries;
        Weights = weights;
        Output = output;
    }

    /// <summary>y = [c; h], (B, T, M + Q).</summary>
    public Tensor Output { get; }
    /// <summary>The attention weights a, (B, T, S); zero beyond each sequence's length.</summary>
    public Tensor Weights { get; }
    /// <summary>The memory attended to.</summary>
    public AttentionMemory Memory { get; }
    /// <summary>The queries h, (B, T, Q), as given (not copied).</summary>
    public Tensor Queries { get; }

    /// <summary>
    /// Adds dW_a to the layer's gradient and returns dL/dE (B, S, M), through both the context and the keys, and
    /// dL/dh (B, T, Q).
    /// </summary>
    /// <param name="dOutput">dL/dy, (B, T, M + Q).</param>
    public (Tensor DMemory, Tensor DQueries) Backward(Tensor dOutput) => layer.Backward(this, dOutput);
}
