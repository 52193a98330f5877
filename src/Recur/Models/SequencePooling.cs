using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>
/// Pooling over time of a recurrent stack's output (B, T, D*H) to one vector per sequence (B, D*H), and its backward:
/// shared by the models that summarise a sequence (<see cref="SequenceClassifier"/>, <see cref="PooledSequenceRegressor"/>).
/// </summary>
internal static class SequencePooling
{
    /// <summary>(B, D*H) from the recurrent output, by <paramref name="pooling"/>; <paramref name="argmax"/> records max pooling's winning steps for the backward.</summary>
    public static Tensor Pool(Pooling pooling, Recurrent rnn, RecurrentOutput r, int[] lengths, out int[]? argmax)
    {
        argmax = null;
        int b = lengths.Length, d = rnn.Directions, h = rnn.StateSize, dh = d * h;
        var pooled = new Tensor(b, dh);
        var p = pooled.Span;
        if (pooling == Pooling.Last)
        {
            // Top layer's final states: forward at each sequence's end, reverse at its start.
            var hn = r.HiddenState.Span;
            int top = (rnn.NumLayers - 1) * d;
            for (int i = 0; i < b; i++)
                for (int k = 0; k < d; k++)
                    hn.Slice(((top + k) * b + i) * h, h).CopyTo(p.Slice(i * dh + k * h, h));
            return pooled;
        }
        var y = r.Output.Span; // (B, T, DH)
        int t = r.Output.Dim(1);
        if (pooling == Pooling.Mean)
        {
            for (int i = 0; i < b; i++)
            {
                var row = p.Slice(i * dh, dh);
                for (int s = 0; s < lengths[i]; s++) TensorPrimitives.Add(row, y.Slice((i * t + s) * dh, dh), row);
                if (lengths[i] > 0) TensorPrimitives.Multiply(row, 1f / lengths[i], row);
            }
            return pooled;
        }
        argmax = new int[b * dh];
        for (int i = 0; i < b; i++)
        {
            var row = p.Slice(i * dh, dh);
            if (lengths[i] == 0) { argmax.AsSpan(i * dh, dh).Fill(-1); continue; }
            y.Slice(i * t * dh, dh).CopyTo(row);
            for (int s = 1; s < lengths[i]; s++)
            {
                var ys = y.Slice((i * t + s) * dh, dh);
                for (int j = 0; j < dh; j++)
                    if (ys[j] > row[j]) { row[j] = ys[j]; argmax[i * dh + j] = s; }
            }
        }
        return pooled;
    }

    public static (Tensor? DOutput, Tensor? DHidden) Backward(Pooling pooling, Recurrent rnn, RecurrentOutput r, int[] lengths, Tensor dPooled, int[]? argmax)
    {
        int b = lengths.Length, d = rnn.Directions, h = rnn.StateSize, dh = d * h;
        var dp = dPooled.Span;
        if (pooling == Pooling.Last)
        {
            var dHidden = new Tensor(r.HiddenState.Shape.ToArray());
            var dhs = dHidden.Span;
            int top = (rnn.NumLayers - 1) * d;
            for (int i = 0; i < b; i++)
                for (int k = 0; k < d; k++)
                    dp.Slice(i * dh + k * h, h).CopyTo(dhs.Slice(((top + k) * b + i) * h, h));
            return (null, dHidden);
        }
        int t = r.Output.Dim(1);
        var dOut = new Tensor(b, t, dh);
        var dy = dOut.Span;
        for (int i = 0; i < b; i++)
        {
            if (lengths[i] == 0) continue;
            var g = dp.Slice(i * dh, dh);
            if (pooling == Pooling.Mean)
            {
                for (int s = 0; s < lengths[i]; s++) TensorPrimitives.Multiply(g, 1f / lengths[i], dy.Slice((i * t + s) * dh, dh));
            }
            else
            {
                for (int j = 0; j < dh; j++) dy[(i * t + argmax![i * dh + j]) * dh + j] = g[j];
            }
        }
        return (dOut, null);
    }
}
