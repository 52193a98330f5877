namespace Recur.Training;

/// <summary>
/// The seam for synchronous data-parallel training: N processes (ranks) each train the same model on their shard of
/// every global batch, and the trainer sums their gradients, losses and counts through this interface after the
/// backward pass and before the finiteness check, clipping and the optimizer step. The library knows nothing of the
/// transport; an implementation over MPI lives outside it (Recur.Distributed).
/// </summary>
/// <remarks>
/// Contract: every call is collective (every rank makes the same calls in the same order with spans of the same
/// length) and leaves the same sum, bit for bit, on every rank, so the ranks' parameters stay identical.
/// </remarks>
public interface IGradientSynchronizer
{
    /// <summary>This process's rank, 0 ≤ Rank &lt; <see cref="Size"/>. Rank 0 alone writes checkpoints.</summary>
    int Rank { get; }

    /// <summary>The number of processes training together.</summary>
    int Size { get; }

    /// <summary>Replaces <paramref name="values"/> by its elementwise sum over all ranks.</summary>
    void Sum(Span<float> values);

    /// <summary>Replaces <paramref name="values"/> by its elementwise sum over all ranks.</summary>
    void Sum(Span<double> values);

    /// <summary>
    /// Starts replacing <paramref name="values"/> by its elementwise sum over all ranks and may return before it is
    /// done: the sum is in place once <see cref="WaitAll"/> returns, and until then nobody may touch the memory. Like
    /// every call here it is collective: every rank begins the same sums, in the same order, before its next
    /// <see cref="WaitAll"/>, <see cref="Sum(Span{float})"/> or <see cref="Sum(Span{double})"/>. The default sums at once.
    /// </summary>
    void BeginSum(Memory<float> values) => Sum(values.Span);

    /// <summary>
    /// Lets the sums begun by <see cref="BeginSum"/> advance without waiting for them (a transport that moves data only
    /// inside its own calls needs such calls while the backward pass runs). The default does nothing.
    /// </summary>
    void Progress() { }

    /// <summary>Waits until every sum begun by <see cref="BeginSum"/> is complete. The default does nothing.</summary>
    void WaitAll() { }
}
