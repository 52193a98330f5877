using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Hidden (and cell) state carried from one call to the next: truncated backpropagation through time, streaming
/// inference, generation. It is always a detached copy: it holds values, not a link to the pass that produced them,
/// so feeding it into the next chunk's <see cref="Recurrent.Forward"/> cannot carry gradients back across the chunk
/// border; the backward of a chunk ends at its initial state.
/// </summary>
public sealed class RecurrentState
{
    private RecurrentState(Tensor hidden, Tensor? cell)
    {
        Hidden = hidden;
        Cell = cell;
    }

    /// <summary>h, (L*D, B, H).</summary>
    public Tensor Hidden { get; }

    /// <summary>c for LSTM, (L*D, B, H); null otherwise.</summary>
    public Tensor? Cell { get; }

    /// <summary>A copy of the final states of a pass (safe to keep after the pass is disposed).</summary>
    public static RecurrentState Detach(RecurrentOutput output)
    {
        ArgumentNullException.ThrowIfNull(output);
        return new RecurrentState(output.HiddenState.Clone(), output.CellState?.Clone());
    }

    /// <summary>A copy of explicit state tensors.</summary>
    public static RecurrentState From(Tensor hidden, Tensor? cell) => new(hidden.Clone(), cell?.Clone());
}
