using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of a <see cref="PooledSequenceRegressor"/>.</summary>
public sealed record PooledRegressorConfig
{
    /// <summary>The embedding (token input) or numeric input, and the recurrent trunk.</summary>
    public required EncoderConfig Encoder { get; init; }
    /// <summary>Pooling over time.</summary>
    public Pooling Pooling { get; init; } = Pooling.Last;
    /// <summary>Values predicted per sequence.</summary>
    public int Outputs { get; init; } = 1;
}

/// <summary>
/// Many-to-one regression with the classifier's architecture: feature vectors (or token ids), a stack of
/// RNN/LSTM/GRU layers (optionally bidirectional, with dropout), pooling over time (last state, mean or max), dropout,
/// and a linear layer giving <see cref="PooledRegressorConfig.Outputs"/> values per sequence. Trained with mean
/// squared error against <see cref="SequenceBatch.Values"/>. (<see cref="SequenceRegressor"/> is the minimal
/// last-state model of the gradient experiments.)
/// </summary>
public sealed class PooledSequenceRegressor : Module, ITrainable<SequenceBatch>
{
    private readonly Dropout headDropout;

    /// <summary>Creates the model, initialised from <paramref name="rng"/>.</summary>
    public PooledSequenceRegressor(PooledRegressorConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Outputs < 1) throw new ArgumentOutOfRangeException(nameof(config), config.Outputs, "Outputs must be >= 1");
        Config = config;
        Encoder = AddModule("encoder", new SequenceEncoder(config.Encoder, rng));
        headDropout = AddModule("head_dropout", new Dropout(config.Encoder.Dropout, rng.Split()));
        Head = AddModule("head", new Linear(Encoder.OutputSize, config.Outputs, rng: rng.Split()));
    }

    /// <summary>The configuration.</summary>
    public PooledRegressorConfig Config { get; }
    /// <summary>The trunk.</summary>
    public SequenceEncoder Encoder { get; }
    /// <summary>The output layer.</summary>
    public Linear Head { get; }
    Module ITrainable<SequenceBatch>.Model => this;

    /// <summary>Predicted values (B, outputs) for a batch (evaluation mode is the caller's choice).</summary>
    public Tensor Predict(SequenceBatch batch)
    {
        using var pass = Encoder.Forward(batch, requiresGrad: false);
        var pooled = SequencePooling.Pool(Config.Pooling, Encoder.Rnn, pass.Rnn, batch.Lengths, out _);
        return Head.Forward(pooled).Output;
    }

    /// <inheritdoc/>
    public BatchLoss Step(SequenceBatch batch, bool backward) => Step(batch, backward, null);

    /// <summary>
    /// One training (or evaluation) step: mean squared error of the predictions against <see cref="SequenceBatch.Values"/>;
    /// with <paramref name="backward"/> and <paramref name="gradientFlow"/>, the backward pass also reports ||dL/dh_t||
    /// per layer, direction and time step of the encoder's recurrent stack to <paramref name="gradientFlow"/>.
    /// </summary>
    public BatchLoss Step(SequenceBatch batch, bool backward, IGradientFlowObserver? gradientFlow)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var values = batch.Values ?? throw new ArgumentException("batch.Values (the targets, (B, outputs)) is required for training", nameof(batch));
        if (values.Rank != 2 || values.Dim(0) != batch.Batch || values.Dim(1) != Config.Outputs)
            throw new ArgumentException($"batch.Values must have shape (B={batch.Batch}, outputs={Config.Outputs}), got {Tensor.ShapeString(values.Shape)}", nameof(batch));
        using var pass = Encoder.Forward(batch, requiresGrad: backward);
        var pooled = SequencePooling.Pool(Config.Pooling, Encoder.Rnn, pass.Rnn, batch.Lengths, out var argmax);
        var dropped = headDropout.Forward(pooled);
        var head = Head.Forward(dropped.Output);
        var d = backward ? new Tensor(head.Output.Shape.ToArray()) : null;
        float l = MseLoss.Forward(head.Output, values, d);
        if (backward)
        {
            var dPooled = dropped.Backward(head.Backward(d!));
            var (dOut, dHidden) = SequencePooling.Backward(Config.Pooling, Encoder.Rnn, pass.Rnn, batch.Lengths, dPooled, argmax);
            pass.Backward(dOut, dHidden, gradientFlow: gradientFlow);
        }
        return new BatchLoss(l, batch.Batch);
    }
}
