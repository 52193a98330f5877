using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// What a <see cref="LuongAttention"/> attends to: the memory E (B, S, M), its keys K = E W_a^T (B, S, Q) and the
/// valid steps per sequence. Made by <see cref="LuongAttention.Prepare"/>.
/// </summary>
public sealed class AttentionMemory
{
    internal AttentionMemory(Tensor values, Tensor keys, int[] lengths)
    {
        Values = values;
        Keys = keys;
        Lengths = lengths;
    }

    /// <summary>E, (B, S, M).</summary>
    public Tensor Values { get; }
    /// <summary>K = E W_a^T, (B, S, Q).</summary>
    public Tensor Keys { get; }
    /// <summary>Valid steps per sequence.</summary>
    public IReadOnlyList<int> Lengths { get; }
    /// <summary>Sequences (B).</summary>
    public int Batch => Values.Dim(0);
    /// <summary>Padded memory steps (S).</summary>
    public int Steps => Values.Dim(1);

    /// <summary>
    /// The memory <paramref name="copies"/> times over, (copies*B, S, ·): every hypothesis of a beam attends to the
    /// same source. The keys are copied, not recomputed.
    /// </summary>
    public AttentionMemory Repeat(int copies)
    {
        if (copies < 1) throw new ArgumentOutOfRangeException(nameof(copies), copies, "copies must be >= 1");
        return new AttentionMemory(Tile(Values, copies), Tile(Keys, copies), [.. Enumerable.Range(0, copies).SelectMany(_ => Lengths)]);
    }

    /// <summary>
    /// The memories of the sequences named in <paramref name="rows"/>, in that order, (rows.Length, S, ·): one per
    /// hypothesis when the hypotheses of several sequences are decoded together. The keys are copied, not recomputed.
    /// </summary>
    public AttentionMemory Select(int[] rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        foreach (int r in rows)
            if ((uint)r >= (uint)Batch) throw new ArgumentOutOfRangeException(nameof(rows), r, $"each row must be in [0, {Batch})");
        return new AttentionMemory(Pick(Values, rows), Pick(Keys, rows), [.. rows.Select(r => Lengths[r])]);
    }

    private static Tensor Pick(Tensor x, int[] rows)
    {
        int size = x.Dim(1) * x.Dim(2);
        var r = new Tensor(rows.Length, x.Dim(1), x.Dim(2));
        for (int i = 0; i < rows.Length; i++) x.Span.Slice(rows[i] * size, size).CopyTo(r.Span.Slice(i * size, size));
        return r;
    }

    private static Tensor Tile(Tensor x, int copies)
    {
        var r = new Tensor(copies * x.Dim(0), x.Dim(1), x.Dim(2));
        for (int i = 0; i < copies; i++) x.Span.CopyTo(r.Span.Slice(i * x.Length, x.Length));
        return r;
    }
}
