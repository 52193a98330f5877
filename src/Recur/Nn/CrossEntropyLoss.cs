using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Softmax cross-entropy over class logits, as <c>torch.nn.functional.cross_entropy</c> with mean reduction.
/// <code>
/// logp = log_softmax(logits_i)
/// loss_i = -(1 - s) * logp[y_i] - (s / C) * sum_c logp[c]       (s = label smoothing)
/// loss = mean of loss_i over rows whose target is not ignoreIndex
/// dloss/dlogits_ic = (softmax_ic - (1 - s) [c = y_i] - s / C) / counted
/// </code>
/// A batch whose every row is ignored gives loss 0 and zero gradient (PyTorch gives NaN).
/// </summary>
public sealed class CrossEntropyLoss
{
    /// <summary>Creates the loss.</summary>
    /// <param name="ignoreIndex">Target value whose rows are skipped (padding).</param>
    /// <param name="labelSmoothing">s in [0, 1].</param>
    public CrossEntropyLoss(int ignoreIndex = -100, float labelSmoothing = 0f)
    {
        if (!(labelSmoothing >= 0f && labelSmoothing <= 1f))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "labelSmoothing must be in [0, 1]");
        IgnoreIndex = ignoreIndex;
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>Target value whose rows do not count.</summary>
    public int IgnoreIndex { get; }

    /// <summary>Label smoothing s.</summary>
    public float LabelSmoothing { get; }

    /// <summary>
    /// The mean loss over counted rows. When <paramref name="dLogits"/> is given (same shape as the logits) it is
    /// overwritten with dloss/dlogits.
    /// </summary>
    /// <param name="logits">(N, C) unnormalised scores.</param>
    /// <param name="targets">(N) class indices in [0, C), or <see cref="IgnoreIndex"/>.</param>
    /// <param name="dLogits">Receives the gradient, or null.</param>
    public float Forward(Tensor logits, ReadOnlySpan<int> targets, Tensor? dLogits = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.Rank != 2)
            throw new ArgumentException($"logits must have rank 2 (N, C), got shape {Tensor.ShapeString(logits.Shape)}", nameof(logits));
        int n = logits.Dim(0), c = logits.Dim(1);
        if (targets.Length != n)
            throw new ArgumentException($"targets.Length must equal logits.Shape[0] (expected {n}, got {targets.Length})", nameof(targets));
        if (dLogits is not null && !dLogits.SameShape(logits.Shape))
            throw new ArgumentException($"dLogits must have shape {Tensor.ShapeString(logits.Shape)}, got {Tensor.ShapeString(dLogits.Shape)}", nameof(dLogits));
        if (!TensorPrimitives.IsFiniteAll<float>(logits.Span))
            throw new ArgumentException("logits contain NaN or infinity", nameof(logits));
        int counted = 0;
        for (int i = 0; i < n; i++)
        {
            int y = targets[i];
            if (y == IgnoreIndex) continue;
            if ((uint)y >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(targets), y, $"targets[{i}] must be in [0, {c}) or the ignore index {IgnoreIndex}, got {y}");
            counted++;
        }

        var x = logits.Span;
        var d = dLogits is null ? default : dLogits.Span;
        if (dLogits is not null) d.Clear();
        if (counted == 0) return 0f;

        double s = LabelSmoothing, total = 0;
        float scale = 1f / counted;
        Span<float> row = c <= 4096 ? stackalloc float[c] : new float[c];
        for (int i = 0; i < n; i++)
        {
            int y = targets[i];
            if (y == IgnoreIndex) continue;
            var xi = x.Slice(i * c, c);
            float max = TensorPrimitives.Max(xi);
            TensorPrimitives.Subtract(xi, max, row);
            TensorPrimitives.Exp(row, row);
            double sumExp = TensorPrimitives.Sum<float>(row);
            double lse = max + Math.Log(sumExp);
            double nll = lse - xi[y];
            double smooth = s > 0 ? lse - TensorPrimitives.Sum(xi) / (double)c : 0;
            total += (1 - s) * nll + s * smooth;
            if (dLogits is not null)
            {
                var di = d.Slice(i * c, c);
                // softmax, then subtract the smoothed one-hot target, then scale by 1/counted
                TensorPrimitives.Multiply(row, (float)(1.0 / sumExp), di);
                if (s > 0) TensorPrimitives.Subtract(di, (float)(s / c), di);
                di[y] -= (float)(1 - s);
                TensorPrimitives.Multiply(di, scale, di);
            }
        }
        return (float)(total / counted);
    }
}
