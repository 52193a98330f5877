using Recur.Kernels;
using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Luong's global attention with the "general" score (Luong, Pham and Manning 2015, section 3.1), over a memory of
/// S vectors (B, S, M) per sequence, of which the first <c>lengths[b]</c> are valid, for queries (B, T, Q):
/// <code>
/// K = E W_a^T                               (B, S, Q)   keys, one projection of the memory (W_a: (Q, M))
/// score[t, s] = h[t] . K[s]                 s in [0, length)
/// a[t] = softmax(score[t])                  over the valid steps only
/// c[t] = sum_s a[t, s] E[s]                 (B, T, M)   context; zero when the length is 0
/// y[t] = [c[t]; h[t]]                       (B, T, M + Q)
/// </code>
/// The output is the input of Luong's attentional layer h~ = tanh(W_c [c; h]), which stays outside, so that this
/// layer owns W_a only (named <c>weight</c>, initialised as a bias-free <see cref="Linear"/>(M, Q)).
/// </summary>
public sealed class LuongAttention : Module
{
    /// <summary>Creates the layer.</summary>
    /// <param name="memorySize">M, the width of a memory vector (the encoder's output).</param>
    /// <param name="querySize">Q, the width of a query (the decoder's hidden state).</param>
    /// <param name="rng">Source of the initial W_a, U(-1/sqrt(M), 1/sqrt(M)).</param>
    public LuongAttention(int memorySize, int querySize, Rng? rng = null)
    {
        if (memorySize < 1) throw new ArgumentOutOfRangeException(nameof(memorySize), memorySize, "memorySize must be >= 1");
        if (querySize < 1) throw new ArgumentOutOfRangeException(nameof(querySize), querySize, "querySize must be >= 1");
        MemorySize = memorySize;
        QuerySize = querySize;
        Weight = AddParameter("weight", querySize, memorySize);
        float bound = 1f / MathF.Sqrt(memorySize);
        (rng ?? new Rng(0)).FillUniform(Weight.Value.Span, -bound, bound);
    }

    /// <summary>M, the width of a memory vector.</summary>
    public int MemorySize { get; }
    /// <summary>Q, the width of a query.</summary>
    public int QuerySize { get; }
    /// <summary>W_a, (Q, M).</summary>
    public Parameter Weight { get; }

    /// <summary>
    /// The memory with its keys K = E W_a^T computed once, for attending to it from many calls (decoding step by step).
    /// </summary>
    /// <param name="memory">E, (B, S, M).</param>
    /// <param name="lengths">Valid steps per sequence, each in [0, S].</param>
    public AttentionMemory Prepare(Tensor memory, int[] lengths)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(lengths);
        if (memory.Rank != 3 || memory.Dim(2) != MemorySize)
            throw new ArgumentException($"memory must have shape (B, S, M={MemorySize}), got {Tensor.ShapeString(memory.Shape)}", nameof(memory));
        int b = memory.Dim(0), s = memory.Dim(1);
        if (lengths.Length != b)
            throw new ArgumentException($"lengths.Length must equal memory.Shape[0] (expected {b}, got {lengths.Length})", nameof(lengths));
        for (int i = 0; i < b; i++)
            if ((uint)lengths[i] > (uint)s)
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[i], $"lengths[{i}] must be in [0, {s}], got {lengths[i]}");
        var keys = new Tensor(b, s, QuerySize);
        Gemm.Sgemm(Transpose.No, Transpose.Yes, b * s, QuerySize, MemorySize, 1f, memory.Span, MemorySize, Weight.Value.Span, MemorySize, 0f, keys.Span, QuerySize);
        return new AttentionMemory(memory, keys, (int[])lengths.Clone());
    }

    /// <summary>Attends from <paramref name="queries"/> (B, T, Q) to <paramref name="memory"/> (B, S, M); see the class equations.</summary>
    public LuongAttentionOutput Forward(Tensor memory, int[] lengths, Tensor queries) => Forward(Prepare(memory, lengths), queries);

    /// <summary>Attends from <paramref name="queries"/> (B, T, Q) to a prepared memory; see the class equations.</summary>
    public LuongAttentionOutput Forward(AttentionMemory memory, Tensor queries)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(queries);
        int b = memory.Batch, s = memory.Steps, m = MemorySize, q = QuerySize;
        if (memory.Values.Dim(2) != m || memory.Keys.Dim(2) != q)
            throw new ArgumentException($"memory was prepared for another layer (M={memory.Values.Dim(2)}, Q={memory.Keys.Dim(2)}; expected M={m}, Q={q})", nameof(memory));
        if (queries.Rank != 3 || queries.Dim(0) != b || queries.Dim(2) != q)
            throw new ArgumentException($"queries must have shape (B={b}, T, Q={q}), got {Tensor.ShapeString(queries.Shape)}", nameof(queries));
        int t = queries.Dim(1);
        var weights = new Tensor(b, t, s);
        var y = new Tensor(b, t, m + q);
        var e = memory.Values.Span;
        var keys = memory.Keys.Span;
        var h = queries.Span;
        var w = weights.Span;
        var ys = y.Span;
        for (int i = 0; i < b; i++)
        {
            int n = memory.Lengths[i];
            for (int j = 0; j < t; j++)
            {
                var hq = h.Slice((i * t + j) * q, q);
                var wj = w.Slice((i * t + j) * s, s);
                var row = ys.Slice((i * t + j) * (m + q), m + q);
                if (n > 0)
                {
                    for (int k = 0; k < n; k++) wj[k] = TensorPrimitives.Dot(hq, keys.Slice((i * s + k) * q, q));  // score = h . K
                    Activations.SoftmaxRow(wj[..n], wj[..n]);
                    var ctx = row[..m];
                    for (int k = 0; k < n; k++)                                                                    // c = sum a E
                        TensorPrimitives.MultiplyAdd(e.Slice((i * s + k) * m, m), wj[k], ctx, ctx);
                }
                hq.CopyTo(row[m..]);
            }
        }
        return new LuongAttentionOutput(this, memory, queries, weights, y);
    }

    /// <summary>
    /// Backward of <see cref="Forward(AttentionMemory, Tensor)"/>: adds dW_a to the gradient and returns dE (through
    /// the context and the keys) and dh (through the scores and the copy of h in the output).
    /// </summary>
    internal (Tensor DMemory, Tensor DQueries) Backward(LuongAttentionOutput r, Tensor dOutput)
    {
        ArgumentNullException.ThrowIfNull(dOutput);
        LossChecks.SameShape(r.Output, dOutput, nameof(dOutput));
        var memory = r.Memory;
        int b = memory.Batch, s = memory.Steps, t = r.Queries.Dim(1), m = MemorySize, q = QuerySize;
        var dOut = dOutput.Span;
        var e = memory.Values.Span;
        var h = r.Queries.Span;
        var keys = memory.Keys.Span;
        var dMemory = new Tensor(b, s, m);
        var dKeys = new Tensor(b, s, q);
        var dQueries = new Tensor(b, t, q);
        var dE = dMemory.Span;
        var dk = dKeys.Span;
        var dh = dQueries.Span;
        var dw = new float[s];
        for (int i = 0; i < b; i++)
        {
            int n = memory.Lengths[i];
            for (int j = 0; j < t; j++)
            {
                var row = dOut.Slice((i * t + j) * (m + q), m + q);
                var dhq = dh.Slice((i * t + j) * q, q);
                TensorPrimitives.Add(dhq, row[m..], dhq);              // y = [c; h]: h reaches the output directly
                if (n == 0) continue;
                var dctx = row[..m];
                var w = r.Weights.Span.Slice((i * t + j) * s, s);
                // c = sum_k a_k E_k: dE_k += a_k dc, da_k = E_k . dc
                for (int k = 0; k < n; k++)
                {
                    var ek = e.Slice((i * s + k) * m, m);
                    dw[k] = TensorPrimitives.Dot(ek, dctx);
                    var dek = dE.Slice((i * s + k) * m, m);
                    TensorPrimitives.MultiplyAdd(dctx, w[k], dek, dek);
                }
                // a = softmax(score): dscore_k = a_k (da_k - sum_l a_l da_l)
                float dot = TensorPrimitives.Dot(w[..n], dw.AsSpan(0, n));
                var hq = h.Slice((i * t + j) * q, q);
                for (int k = 0; k < n; k++)
                {
                    float ds = w[k] * (dw[k] - dot);
                    // score_k = h . K_k: dh += ds K_k, dK_k += ds h
                    TensorPrimitives.MultiplyAdd(keys.Slice((i * s + k) * q, q), ds, dhq, dhq);
                    var dkk = dk.Slice((i * s + k) * q, q);
                    TensorPrimitives.MultiplyAdd(hq, ds, dkk, dkk);
                }
            }
        }
        // K = E W_a^T: dW_a += dK^T E, dE += dK W_a
        int rows = b * s;
        Gemm.Sgemm(Transpose.Yes, Transpose.No, q, m, rows, 1f, dKeys.Span, q, e, m, 1f, Weight.Grad.Span, m);
        Weight.OnGradientAccumulated();
        var dEFromKeys = new Tensor(b, s, m);
        Gemm.Sgemm(Transpose.No, Transpose.No, rows, m, q, 1f, dKeys.Span, q, Weight.Value.Span, m, 0f, dEFromKeys.Span, m);
        TensorPrimitives.Add(dE, dEFromKeys.Span, dE);
        return (dMemory, dQueries);
    }
}
