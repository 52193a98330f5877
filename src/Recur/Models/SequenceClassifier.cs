using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>How a sequence classifier turns per-step outputs into one vector.</summary>
public enum Pooling
{
    /// <summary>The final hidden states of the top layer (both directions concatenated).</summary>
    Last,
    /// <summary>The mean of the outputs over the valid steps.</summary>
    Mean,
    /// <summary>The element-wise maximum of the outputs over the valid steps.</summary>
    Max,
}

/// <summary>Configuration of a <see cref="SequenceClassifier"/>.</summary>
public sealed record ClassifierConfig
{
    /// <summary>The embedding + recurrent trunk.</summary>
    public required EncoderConfig Encoder { get; init; }
    /// <summary>Pooling over time.</summary>
    public Pooling Pooling { get; init; } = Pooling.Last;
    /// <summary>Number of classes.</summary>
    public required int Classes { get; init; }
}

/// <summary>
/// Many-to-one: token ids (through an embedding) or feature vectors, a stack of RNN/LSTM/GRU layers (optionally
/// bidirectional), pooling over time (last state, mean or max), dropout, a linear layer and softmax.
/// Trained with softmax cross-entropy.
/// </summary>
public sealed class SequenceClassifier : Module, ITrainable<SequenceBatch>
{
    private readonly Dropout headDropout;
    private readonly CrossEntropyLoss loss = new();

    /// <summary>Creates the model, initialised from <paramref name="rng"/>.</summary>
    public SequenceClassifier(ClassifierConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Classes < 2) throw new ArgumentOutOfRangeException(nameof(config), config.Classes, "Classes must be >= 2");
        Config = config;
        Encoder = AddModule("encoder", new SequenceEncoder(config.Encoder, rng));
        headDropout = AddModule("head_dropout", new Dropout(config.Encoder.Dropout, rng.Split()));
        Head = AddModule("head", new Linear(Encoder.OutputSize, config.Classes, rng: rng.Split()));
    }

    /// <summary>The configuration.</summary>
    public ClassifierConfig Config { get; }
    /// <summary>The trunk.</summary>
    public SequenceEncoder Encoder { get; }
    /// <summary>The output layer.</summary>
    public Linear Head { get; }
    Module ITrainable<SequenceBatch>.Model => this;

    /// <summary>Class probabilities (B, C) for a batch (evaluation mode is the caller's choice).</summary>
    public Tensor Predict(SequenceBatch batch)
    {
        using var pass = Encoder.Forward(batch, requiresGrad: false);
        var pooled = Pool(pass.Rnn, batch.Lengths, out _);
        return Activations.Softmax(Head.Forward(pooled).Output).Output;
    }

    /// <inheritdoc/>
    public BatchLoss Step(SequenceBatch batch, bool backward) => Step(batch, backward, null);

    /// <inheritdoc/>
    public int? ItemCount(SequenceBatch batch) => batch?.Batch;

    /// <summary>
    /// One training (or evaluation) step; with <paramref name="backward"/> and <paramref name="gradientFlow"/>, the backward pass also reports
    /// ||dL/dh_t|| per layer, direction and time step of the encoder's recurrent stack to <paramref name="gradientFlow"/>.
    /// </summary>
    public BatchLoss Step(SequenceBatch batch, bool backward, IGradientFlowObserver? gradientFlow)
    {
        var targets = batch.Targets ?? throw new ArgumentException("batch.Targets (one class per sequence) is required for training", nameof(batch));
        if (targets.Length != batch.Batch)
            throw new ArgumentException($"batch.Targets must hold one class per sequence (expected {batch.Batch}, got {targets.Length})", nameof(batch));
        using var pass = Encoder.Forward(batch, requiresGrad: backward);
        var pooled = Pool(pass.Rnn, batch.Lengths, out var argmax);
        var dropped = headDropout.Forward(pooled);
        var head = Head.Forward(dropped.Output);
        var logits = head.Output;
        var dLogits = backward ? new Tensor(logits.Shape.ToArray()) : null;
        float l = loss.Forward(logits, targets, dLogits);
        if (backward)
        {
            var dPooled = dropped.Backward(head.Backward(dLogits!));
            var (dOut, dHidden) = PoolBackward(pass.Rnn, batch.Lengths, dPooled, argmax);
            pass.Backward(dOut, dHidden, gradientFlow: gradientFlow);
        }
        return new BatchLoss(l, batch.Batch);
    }

    private Tensor Pool(RecurrentOutput r, int[] lengths, out int[]? argmax) => SequencePooling.Pool(Config.Pooling, Encoder.Rnn, r, lengths, out argmax);

    private (Tensor? DOutput, Tensor? DHidden) PoolBackward(RecurrentOutput r, int[] lengths, Tensor dPooled, int[]? argmax) =>
        SequencePooling.Backward(Config.Pooling, Encoder.Rnn, r, lengths, dPooled, argmax);
}
