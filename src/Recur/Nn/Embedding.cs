using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Lookup table of vectors, as <c>torch.nn.Embedding</c>: row i of W (V, E) for token id i, initialised from N(0, 1).
/// With a padding index, that row starts at zero and never receives gradient. Pretrained vectors (GloVe, word2vec) go in
/// with <see cref="LoadPretrained"/>, frozen or to be fine-tuned, as <c>nn.Embedding.from_pretrained</c>.
/// </summary>
public sealed class Embedding : Module
{
    /// <summary>Creates the table.</summary>
    /// <param name="numEmbeddings">Vocabulary size V.</param>
    /// <param name="embeddingDim">Vector size E.</param>
    /// <param name="paddingIndex">Id of the padding token, or null.</param>
    /// <param name="rng">Source of the initial values.</param>
    public Embedding(int numEmbeddings, int embeddingDim, int? paddingIndex = null, Rng? rng = null)
    {
        if (numEmbeddings < 1) throw new ArgumentOutOfRangeException(nameof(numEmbeddings), numEmbeddings, "numEmbeddings must be >= 1");
        if (embeddingDim < 1) throw new ArgumentOutOfRangeException(nameof(embeddingDim), embeddingDim, "embeddingDim must be >= 1");
        if (paddingIndex is { } p && (p < 0 || p >= numEmbeddings))
            throw new ArgumentOutOfRangeException(nameof(paddingIndex), p, $"paddingIndex must be in [0, {numEmbeddings})");
        NumEmbeddings = numEmbeddings;
        EmbeddingDim = embeddingDim;
        PaddingIndex = paddingIndex;
        Weight = AddParameter("weight", numEmbeddings, embeddingDim);
        (rng ?? new Rng(0)).FillNormal(Weight.Value.Span, 0f, 1f);
        if (paddingIndex is { } pad) Weight.Value.Span.Slice(pad * embeddingDim, embeddingDim).Clear();
    }

    /// <inheritdoc/>
    protected override void RestoreFixedValues()
    {
        if (PaddingIndex is { } pad) Weight.Value.Span.Slice(pad * EmbeddingDim, EmbeddingDim).Clear();
        base.RestoreFixedValues();
    }

    /// <summary>Vocabulary size V.</summary>
    public int NumEmbeddings { get; }
    /// <summary>Vector size E.</summary>
    public int EmbeddingDim { get; }
    /// <summary>Padding id, whose row gets no gradient.</summary>
    public int? PaddingIndex { get; }
    /// <summary>W, (V, E).</summary>
    public Parameter Weight { get; }

    /// <summary>
    /// Copies pretrained vectors into the rows marked in <paramref name="found"/> (row i of <paramref name="vectors"/>,
    /// (V, E) row-major, for id i). The other rows keep their random values, rescaled to the root-mean-square of the
    /// pretrained values (as Kim 2014 initialises words without a vector, so that they are on the same scale); the
    /// padding row stays zero. With <paramref name="freeze"/>, the table is not trained further
    /// (<see cref="Parameter.RequiresGrad"/> false): no gradient reaches it, and an optimizer built over the
    /// parameters that require gradients leaves it alone. Returns the number of rows copied.
    /// </summary>
    public int LoadPretrained(ReadOnlySpan<float> vectors, ReadOnlySpan<bool> found, bool freeze = false)
    {
        if (vectors.Length != NumEmbeddings * EmbeddingDim)
            throw new ArgumentException($"vectors must hold {NumEmbeddings} rows of {EmbeddingDim} values, got {vectors.Length} values", nameof(vectors));
        if (found.Length != NumEmbeddings)
            throw new ArgumentException($"found must hold one flag per row ({NumEmbeddings}), got {found.Length}", nameof(found));
        var w = Weight.Value.Span;
        int e = EmbeddingDim, copied = 0;
        double squares = 0;
        for (int i = 0; i < NumEmbeddings; i++)
        {
            if (!found[i] || i == PaddingIndex) continue;
            var row = vectors.Slice(i * e, e);
            for (int j = 0; j < e; j++)
                if (!float.IsFinite(row[j])) throw new ArgumentException($"vectors[{i}, {j}] must be finite, got {row[j]}", nameof(vectors));
            row.CopyTo(w.Slice(i * e, e));
            squares += TensorPrimitives.Dot(row, row);
            copied++;
        }
        if (copied > 0)
        {
            float rms = (float)Math.Sqrt(squares / ((double)copied * e));
            for (int i = 0; i < NumEmbeddings; i++)
                if (!found[i] && i != PaddingIndex) TensorPrimitives.Multiply(w.Slice(i * e, e), rms, w.Slice(i * e, e));
        }
        Weight.RequiresGrad = !freeze;
        return copied;
    }

    /// <summary>Looks up <paramref name="ids"/>; the output has shape <paramref name="shape"/> + (E), and the result keeps
    /// a copy of the ids for its backward.</summary>
    /// <param name="ids">Token ids in [0, V).</param>
    /// <param name="shape">Shape of the ids (e.g. (T, B)); null means (ids.Length).</param>
    public EmbeddingOutput Forward(ReadOnlySpan<int> ids, int[]? shape = null)
    {
        shape ??= [ids.Length];
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != ids.Length)
            throw new ArgumentException($"shape {Tensor.ShapeString(shape)} holds {count} ids, but {ids.Length} were given", nameof(shape));
        CheckIds(ids);
        var y = new Tensor([.. shape, EmbeddingDim]);
        var w = Weight.Value.Span;
        var ys = y.Span;
        int e = EmbeddingDim;
        for (int i = 0; i < ids.Length; i++) w.Slice(ids[i] * e, e).CopyTo(ys.Slice(i * e, e));
        return new EmbeddingOutput(this, ids.ToArray(), y);
    }

    /// <summary>Adds dW[id] += dy for every id (except the padding id; nothing when the table is frozen). Called by <see cref="EmbeddingOutput"/>.</summary>
    internal void Backward(ReadOnlySpan<int> ids, Tensor dOutput)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        if (dOutput.Length != ids.Length * EmbeddingDim || dOutput.Dim(-1) != EmbeddingDim)
            throw new ArgumentException($"dOutput must hold {ids.Length} rows of {EmbeddingDim}, got shape {Tensor.ShapeString(dOutput.Shape)}", nameof(dOutput));
        if (!Weight.RequiresGrad) return; // frozen
        var g = Weight.Grad.Span;
        var dy = dOutput.Span;
        int e = EmbeddingDim;
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i] == PaddingIndex) continue;
            var row = g.Slice(ids[i] * e, e);
            TensorPrimitives.Add(row, dy.Slice(i * e, e), row);
        }
        Weight.OnGradientAccumulated();
    }

    private void CheckIds(ReadOnlySpan<int> ids)
    {
        for (int i = 0; i < ids.Length; i++)
            if ((uint)ids[i] >= (uint)NumEmbeddings)
                throw new ArgumentOutOfRangeException(nameof(ids), ids[i], $"ids[{i}] must be in [0, {NumEmbeddings}), got {ids[i]}");
    }
}
