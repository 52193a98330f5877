namespace Recur.Kernels.Recurrent;

/// <summary>
/// How the recurrent engine spreads the forward time loop of one layer and direction over the threads. Every
/// schedule computes each output element with the same operations in the same order, so results are bitwise identical
/// whichever runs and for any thread count; only the speed differs. The backward (BPTT) time loop of a pass follows the
/// forward's choice when that was <see cref="BatchParallel"/> (each thread owns the same rows for all steps, last step
/// first) and runs per step otherwise, and also when a gradient-flow observer asks for each step's norm over all rows.
/// </summary>
public enum RecurrentStepSchedule
{
    /// <summary>Chosen by shape (see <see cref="RecurrentEngineOptions.Schedule"/>).</summary>
    Auto,

    /// <summary>
    /// One dispatch per time step: the running rows are cut into blocks, each doing its slice of h W_hh^T and then its
    /// gate kernel; large steps run as one block whose product parallelises by column tiles
    /// (<see cref="RecurrentEngineOptions.FusedMax"/>).
    /// </summary>
    PerStep,

    /// <summary>
    /// Each thread owns a fixed block of sequences (rows) for all steps of a layer and direction, as ONNX Runtime's
    /// DeepCPU LSTM does: one dispatch per layer and direction, no barrier between steps. A thread's rows shrink as its
    /// sequences end (rows are cut so that the blocks hold about equal numbers of running steps). The backward pass of a
    /// layer that ran forward this way runs this way too (without a gradient-flow observer).
    /// </summary>
    BatchParallel,

    /// <summary>
    /// Each thread owns blocks of hidden units: for its units it computes all G gates of h W_hh^T (from a copy of
    /// W_hh packed gate-interleaved by unit block) and then runs the cell on them, as oneDNN's brgemm RNN does: one
    /// dispatch per step, no gate data crossing cores. Parallel when there are too few rows to cut (streaming, a single
    /// sequence).
    /// </summary>
    HiddenBlocks,
}
