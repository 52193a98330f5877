using Recur.Tensors;

namespace Recur.Nn;

/// <summary>The result of <see cref="Embedding.Forward"/>: the looked-up vectors and the ids they came from.</summary>
public sealed class EmbeddingOutput
{
    private readonly Embedding layer;
    private readonly int[] ids;

    internal EmbeddingOutput(Embedding layer, int[] ids, Tensor output)
    {
        this.layer = layer;
        this.ids = ids;
        Output = output;
    }

    /// <summary>The vectors, (ids shape..., E).</summary>
    public Tensor Output { get; }

    /// <summary>The ids looked up (a copy).</summary>
    public ReadOnlySpan<int> Ids => ids;

    /// <summary>
    /// Adds dW[id] += dy for every id except the padding id. Ids are discrete, so there is no input gradient to return.
    /// </summary>
    /// <param name="dOutput">dL/dy, the shape of <see cref="Output"/>.</param>
    public void Backward(Tensor dOutput) => layer.Backward(ids, dOutput);
}
