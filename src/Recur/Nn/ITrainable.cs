using Recur.Tensors;

namespace Recur.Nn;

/// <summary>The mean loss of a batch and how many items (sequences, tokens, steps) it averaged over.</summary>
public readonly record struct BatchLoss(double Loss, int Count);

/// <summary>A model the trainer (Recur.Training.Trainer) can train on batches of <typeparamref name="TBatch"/>.</summary>
public interface ITrainable<in TBatch>
{
    /// <summary>The module whose parameters are trained.</summary>
    Module Model { get; }

    /// <summary>
    /// Forward pass and loss on one batch; with <paramref name="backward"/>, adds the gradient of the returned mean
    /// loss to every parameter's gradient.
    /// </summary>
    BatchLoss Step(TBatch batch, bool backward);

    /// <summary>
    /// The <see cref="BatchLoss.Count"/> that <see cref="Step"/> will return for <paramref name="batch"/>, known before
    /// the step (null: not known until it returns). Data-parallel training weights this rank's gradient by it while the
    /// backward pass still runs, so that it can start reducing finished gradients (Recur.Training.GradientBuckets).
    /// </summary>
    int? ItemCount(TBatch batch) => null;

    /// <summary>Called before each epoch (a language model resets its carried state here).</summary>
    void StartEpoch(int epoch) { }

    /// <summary>State carried from batch to batch inside an epoch (a language model's hidden state), for checkpoints.</summary>
    IReadOnlyDictionary<string, Tensor> CaptureState() => new Dictionary<string, Tensor>();

    /// <summary>Restores what <see cref="CaptureState"/> returned, after <see cref="StartEpoch"/> on resume.</summary>
    void RestoreState(IReadOnlyDictionary<string, Tensor> state) { }
}
