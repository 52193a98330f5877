using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of a <see cref="SequenceTagger"/>.</summary>
public sealed record TaggerConfig
{
    /// <summary>The embedding + recurrent trunk (usually bidirectional).</summary>
    public required EncoderConfig Encoder { get; init; }
    /// <summary>Number of tags.</summary>
    public required int Tags { get; init; }
}

/// <summary>
/// Many-to-many, aligned: one tag per input step. Embedding (or features), a recurrent stack, dropout and a linear
/// layer applied at every step; softmax cross-entropy averaged over the valid steps (padding is ignored).
/// </summary>
public sealed class SequenceTagger : Module, ITrainable<SequenceBatch>
{
    /// <summary>Target value of padded steps.</summary>
    public const int IgnoreIndex = -100;

    private readonly Dropout headDropout;
    private readonly CrossEntropyLoss loss = new(IgnoreIndex);

    /// <summary>Creates the model.</summary>
    public SequenceTagger(TaggerConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Tags < 2) throw new ArgumentOutOfRangeException(nameof(config), config.Tags, "Tags must be >= 2");
        Config = config;
        Encoder = AddModule("encoder", new SequenceEncoder(config.Encoder, rng));
        headDropout = AddModule("head_dropout", new Dropout(config.Encoder.Dropout, rng.Split()));
        Head = AddModule("head", new Linear(Encoder.OutputSize, config.Tags, rng: rng.Split()));
    }

    /// <summary>The configuration.</summary>
    public TaggerConfig Config { get; }
    /// <summary>The trunk.</summary>
    public SequenceEncoder Encoder { get; }
    /// <summary>The per-step output layer.</summary>
    public Linear Head { get; }
    Module ITrainable<SequenceBatch>.Model => this;

    /// <summary>Tag probabilities (B, T, Tags); rows past a sequence's length are meaningless.</summary>
    public Tensor Predict(SequenceBatch batch)
    {
        using var pass = Encoder.Forward(batch, requiresGrad: false);
        var logits = Head.Forward(pass.Rnn.Output).Output;
        return Activations.Softmax(logits).Output;
    }

    /// <summary>The most likely tag of every valid step, per sequence.</summary>
    public int[][] PredictTags(SequenceBatch batch)
    {
        var p = Predict(batch);
        int tags = Config.Tags;
        var result = new int[batch.Batch][];
        for (int i = 0; i < batch.Batch; i++)
        {
            result[i] = new int[batch.Lengths[i]];
            for (int s = 0; s < batch.Lengths[i]; s++)
                result[i][s] = TensorPrimitives.IndexOfMax(p.Span.Slice((i * batch.Steps + s) * tags, tags));
        }
        return result;
    }

    /// <inheritdoc/>
    public BatchLoss Step(SequenceBatch batch, bool backward) => Step(batch, backward, null);

    /// <summary>
    /// One training (or evaluation) step; with <paramref name="backward"/> and <paramref name="gradientFlow"/>, the backward pass also reports
    /// ||dL/dh_t|| per layer, direction and time step of the encoder's recurrent stack to <paramref name="gradientFlow"/>.
    /// </summary>
    public BatchLoss Step(SequenceBatch batch, bool backward, IGradientFlowObserver? gradientFlow)
    {
        var targets = batch.Targets ?? throw new ArgumentException("batch.Targets (one tag per step, -100 at padding) is required", nameof(batch));
        if (targets.Length != batch.Batch * batch.Steps)
            throw new ArgumentException($"batch.Targets must hold B*T = {batch.Batch * batch.Steps} tags, got {targets.Length}", nameof(batch));
        using var pass = Encoder.Forward(batch, requiresGrad: backward);
        var dropped = headDropout.Forward(pass.Rnn.Output);
        var head = Head.Forward(dropped.Output);
        var logits = head.Output.Reshape(batch.Batch * batch.Steps, Config.Tags);
        var dLogits = backward ? new Tensor(logits.Shape.ToArray()) : null;
        float l = loss.Forward(logits, targets, dLogits);
        int counted = targets.Count(t => t != IgnoreIndex);
        if (backward)
        {
            var dOut = head.Backward(dLogits!.Reshape(batch.Batch, batch.Steps, Config.Tags));
            pass.Backward(dropped.Backward(dOut), gradientFlow: gradientFlow);
        }
        return new BatchLoss(l, counted);
    }

    /// <summary>Per-step targets (B*T) for tagged sequences, <see cref="IgnoreIndex"/> at padding.</summary>
    public static int[] PadTargets(IReadOnlyList<int[]> tags, ReadOnlySpan<int> indices, int steps)
    {
        var t = new int[indices.Length * steps];
        Array.Fill(t, IgnoreIndex);
        for (int k = 0; k < indices.Length; k++) tags[indices[k]].CopyTo(t, k * steps);
        return t;
    }
}
