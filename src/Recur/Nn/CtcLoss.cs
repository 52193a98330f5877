using Recur.Kernels;
using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Connectionist temporal classification (Graves et al. 2006), as
/// <c>torch.nn.functional.ctc_loss(log_softmax(logits, 2), targets, input_lengths, target_lengths, blank=0,
/// reduction, zero_infinity)</c> in PyTorch 1.13. Class 0 is the blank; labels are 1..C-1.
/// <code>
/// l' = (blank, l_1, blank, l_2, ..., l_L, blank)                       (S' = 2L + 1 states)
/// alpha_0(0) = y_0(blank), alpha_0(1) = y_0(l_1)
/// alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) [+ alpha_{t-1}(s-2) if l'_s != blank and l'_s != l'_{s-2}]) y_t(l'_s)
/// nll = -log(alpha_{T'-1}(S'-1) + alpha_{T'-1}(S'-2))                 (T' = the sequence's input length)
/// d nll / d x_t(k) = softmax(x_t)(k) - gamma_t(k),  gamma_t(k) = sum_{s: l'_s = k} alpha_t(s) beta_t(s) / (y_t(k) p(l|x))
/// </code>
/// computed in log space, in float32, with the log-softmax inside (the inputs are logits). Semantics at the edges, as
/// PyTorch: a repeated label needs a blank frame between its copies; an empty target scores the all-blank path; an
/// input length of 0 gives loss 0 for an empty target and +inf otherwise; a target that cannot be aligned to its
/// input (more frames needed than given, see <see cref="MinimumInputLength"/>) gives loss +inf and a NaN gradient on
/// that sequence's frames, or, with <see cref="ZeroInfinity"/>, loss 0 and gradient 0. Frames past a sequence's input
/// length get gradient 0. One call runs the sequences in parallel; the result does not depend on the thread count,
/// and the call allocates nothing that grows with T (its scratch is rented per call).
/// </summary>
public sealed class CtcLoss
{
    /// <summary>The blank class, always 0.</summary>
    public const int Blank = 0;

    /// <summary>Creates the loss.</summary>
    /// <param name="reduction">Mean (per-sequence loss over its target length, then the batch mean) or sum.</param>
    /// <param name="zeroInfinity">Impossible alignments give loss 0 and gradient 0 instead of +inf and NaN.</param>
    /// <param name="batchFirst">The logits are (N, T, C), as the models' heads produce them, instead of (T, N, C).</param>
    public CtcLoss(CtcReduction reduction = CtcReduction.Mean, bool zeroInfinity = false, bool batchFirst = false)
    {
        if (reduction is not (CtcReduction.Mean or CtcReduction.Sum))
            throw new ArgumentOutOfRangeException(nameof(reduction), reduction, "reduction must be Mean or Sum");
        Reduction = reduction;
        ZeroInfinity = zeroInfinity;
        BatchFirst = batchFirst;
    }

    /// <summary>How the per-sequence losses are reduced.</summary>
    public CtcReduction Reduction { get; }

    /// <summary>Whether impossible alignments give loss 0 and gradient 0 (PyTorch's <c>zero_infinity</c>).</summary>
    public bool ZeroInfinity { get; }

    /// <summary>Whether the logits are (N, T, C) rather than (T, N, C).</summary>
    public bool BatchFirst { get; }

    /// <summary>
    /// The fewest frames that can carry <paramref name="target"/>: its length plus one blank between each pair of
    /// equal adjacent labels. A shorter input has no alignment (loss +inf).
    /// </summary>
    public static int MinimumInputLength(ReadOnlySpan<int> target)
    {
        int frames = target.Length;
        for (int i = 1; i < target.Length; i++)
            if (target[i] == target[i - 1]) frames++;
        return frames;
    }

    /// <summary>
    /// The reduced loss. When <paramref name="dLogits"/> is given (same shape as the logits) it is overwritten with
    /// d loss / d logits; <paramref name="sequenceLosses"/>, when not empty, receives each sequence's negative
    /// log-likelihood before reduction (PyTorch's <c>reduction='none'</c>, with <see cref="ZeroInfinity"/> applied).
    /// </summary>
    /// <param name="logits">(T, N, C), or (N, T, C) with <see cref="BatchFirst"/>: unnormalised scores, class 0 the blank.</param>
    /// <param name="inputLengths">(N) frames of each sequence, in [0, T].</param>
    /// <param name="targets">The label sequences concatenated (PyTorch's 1-D form): sum of <paramref name="targetLengths"/> labels, each in [1, C).</param>
    /// <param name="targetLengths">(N) length of each label sequence, >= 0.</param>
    /// <param name="dLogits">Receives the gradient, or null.</param>
    /// <param name="sequenceLosses">(N) receives the per-sequence losses, or empty.</param>
    public float Forward(Tensor logits, ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targets, ReadOnlySpan<int> targetLengths,
        Tensor? dLogits = null, Span<float> sequenceLosses = default)
    {
        ArgumentNullException.ThrowIfNull(logits);
        if (logits.Rank != 3)
            throw new ArgumentException($"logits must have rank 3 ({(BatchFirst ? "N, T, C" : "T, N, C")}), got shape {Tensor.ShapeString(logits.Shape)}", nameof(logits));
        int t = logits.Dim(BatchFirst ? 1 : 0), n = logits.Dim(BatchFirst ? 0 : 1), c = logits.Dim(2);
        if (n == 0) throw new ArgumentException($"logits must hold at least one sequence, got shape {Tensor.ShapeString(logits.Shape)}", nameof(logits));
        if (c < 1) throw new ArgumentException("logits must have at least one class (the blank)", nameof(logits));
        if (inputLengths.Length != n)
            throw new ArgumentException($"inputLengths.Length must equal the batch size N (expected {n}, got {inputLengths.Length})", nameof(inputLengths));
        if (targetLengths.Length != n)
            throw new ArgumentException($"targetLengths.Length must equal the batch size N (expected {n}, got {targetLengths.Length})", nameof(targetLengths));
        if (!sequenceLosses.IsEmpty && sequenceLosses.Length != n)
            throw new ArgumentException($"sequenceLosses.Length must equal the batch size N (expected {n}, got {sequenceLosses.Length})", nameof(sequenceLosses));
        if (dLogits is not null && !dLogits.SameShape(logits.Shape))
            throw new ArgumentException($"dLogits must have shape {Tensor.ShapeString(logits.Shape)}, got {Tensor.ShapeString(dLogits.Shape)}", nameof(dLogits));
        long total = 0;
        for (int b = 0; b < n; b++)
        {
            if ((uint)inputLengths[b] > (uint)t)
                throw new ArgumentOutOfRangeException(nameof(inputLengths), inputLengths[b], $"inputLengths[{b}] must be in [0, T = {t}], got {inputLengths[b]}");
            if (targetLengths[b] < 0)
                throw new ArgumentOutOfRangeException(nameof(targetLengths), targetLengths[b], $"targetLengths[{b}] must be >= 0, got {targetLengths[b]}");
            total += targetLengths[b];
        }
        if (targets.Length != total)
            throw new ArgumentException($"targets.Length must equal the sum of targetLengths (expected {total}, got {targets.Length})", nameof(targets));
        for (int i = 0, b = 0, end = targetLengths[0]; i < targets.Length; i++)
        {
            while (i >= end) end += targetLengths[++b];
            if (targets[i] < 1 || targets[i] >= c)
                throw new ArgumentOutOfRangeException(nameof(targets), targets[i],
                    $"label {i - (end - targetLengths[b])} of sequence {b} (targets[{i}]) must be in [1, {c}) (0 is the blank), got {targets[i]}");
        }
        LossChecks.Finite(logits, nameof(logits));

        bool mean = Reduction == CtcReduction.Mean;
        Span<float> scale = n <= 256 ? stackalloc float[n] : new float[n];
        Span<float> nll = n <= 256 ? stackalloc float[n] : new float[n];
        for (int b = 0; b < n; b++) scale[b] = mean ? 1f / (Math.Max(1, targetLengths[b]) * (float)n) : 1f;
        int timeStride = BatchFirst ? c : n * c, batchStride = BatchFirst ? t * c : c;
        CtcKernels.LossAndGradient(logits.Buffer, logits.Offset, timeStride, batchStride, t, c, inputLengths, targets, targetLengths,
            scale, ZeroInfinity, nll, dLogits?.Buffer, dLogits?.Offset ?? 0);
        dLogits?.MarkChanged();

        // Fixed order, in double: the same total for any thread count.
        double sum = 0;
        for (int b = 0; b < n; b++) sum += mean ? nll[b] / (double)Math.Max(1, targetLengths[b]) : nll[b];
        if (!sequenceLosses.IsEmpty) nll.CopyTo(sequenceLosses);
        return (float)(mean ? sum / n : sum);
    }

    /// <summary>
    /// <see cref="Forward(Tensor, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, Tensor?, Span{float})"/>
    /// with one label array per sequence.
    /// </summary>
    /// <param name="logits">(T, N, C), or (N, T, C) with <see cref="BatchFirst"/>.</param>
    /// <param name="inputLengths">(N) frames of each sequence.</param>
    /// <param name="targets">N label sequences, labels in [1, C).</param>
    /// <param name="dLogits">Receives the gradient, or null.</param>
    public float Forward(Tensor logits, ReadOnlySpan<int> inputLengths, IReadOnlyList<int[]> targets, Tensor? dLogits = null)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var lengths = new int[targets.Count];
        for (int b = 0; b < lengths.Length; b++)
            lengths[b] = (targets[b] ?? throw new ArgumentNullException(nameof(targets), $"targets[{b}] is null")).Length;
        var flat = new int[lengths.Sum()];
        for (int b = 0, at = 0; b < lengths.Length; at += lengths[b], b++) targets[b].CopyTo(flat, at);
        return Forward(logits, inputLengths, flat, lengths, dLogits);
    }
}
