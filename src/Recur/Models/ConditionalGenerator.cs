using Recur.Models.Decoding;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of a <see cref="ConditionalGenerator"/>.</summary>
public sealed record GeneratorConfig
{
    /// <summary>Width of the conditioning vector (e.g. a one-hot class or style).</summary>
    public required int ConditionSize { get; init; }
    /// <summary>Width of each emitted frame (e.g. the pitch range of a piano roll).</summary>
    public required int FrameSize { get; init; }
    /// <summary>The recurrent cell.</summary>
    public RecurrentMode Cell { get; init; } = RecurrentMode.Lstm;
    /// <summary>Hidden units.</summary>
    public int HiddenSize { get; init; } = 128;
    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 1;
    /// <summary>
    /// Dropout on the input frames (training only, so also on a one-layer model) and between stacked layers.
    /// </summary>
    public float Dropout { get; init; }
}

/// <summary>Frames (B, T, F) in [0, 1] with one conditioning vector per sequence (B, C) and lengths.</summary>
public sealed class FrameBatch
{
    /// <summary>Target frames (B, T, F), multi-hot (or probabilities).</summary>
    public required Tensor Frames { get; init; }
    /// <summary>Conditioning vectors (B, C).</summary>
    public required Tensor Conditions { get; init; }
    /// <summary>Valid steps per sequence.</summary>
    public required int[] Lengths { get; init; }
}

/// <summary>
/// One-to-many: a fixed input vector (a class, a style, a feature vector) sets the initial state through
/// h0 = tanh(W c + b) for every layer, and the model emits a sequence of frames, each a set of independent Bernoulli
/// units (a sigmoid per unit, e.g. per pitch of a piano roll), trained with binary cross-entropy summed over the units
/// of a frame (the negative log-likelihood per step). The input at step t
/// is the frame at t-1 (zeros at t = 0): teacher forcing in training, its own samples when generating. In training,
/// <see cref="GeneratorConfig.Dropout"/> drops units of the input frames (inverted dropout) and acts between layers.
/// </summary>
public sealed class ConditionalGenerator : Module, ITrainable<FrameBatch>
{
    private readonly Linear bridge, head;
    private readonly Dropout inputDropout;

    /// <summary>Creates the model.</summary>
    public ConditionalGenerator(GeneratorConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.ConditionSize < 1) throw new ArgumentOutOfRangeException(nameof(config), config.ConditionSize, "ConditionSize must be >= 1");
        if (config.FrameSize < 1) throw new ArgumentOutOfRangeException(nameof(config), config.FrameSize, "FrameSize must be >= 1");
        Config = config;
        bridge = AddModule("bridge", new Linear(config.ConditionSize, config.HiddenSize, rng: rng.Split()));
        Rnn = AddModule("rnn", new Recurrent(config.Cell, config.FrameSize, config.HiddenSize, config.Layers, batchFirst: true,
            dropout: config.Layers > 1 ? config.Dropout : 0f, rng: rng.Split()));
        head = AddModule("head", new Linear(config.HiddenSize, config.FrameSize, rng: rng.Split()));
        // Split last, so that the other layers' initial weights are those of a model without it.
        inputDropout = AddModule("input_dropout", new Dropout(config.Dropout, rng.Split()));
    }

    /// <summary>The configuration.</summary>
    public GeneratorConfig Config { get; }
    /// <summary>The recurrent stack.</summary>
    public Recurrent Rnn { get; }
    Module ITrainable<FrameBatch>.Model => this;

    /// <summary>
    /// The training loss: negative log-likelihood per time step (binary cross-entropy summed over a frame's units,
    /// averaged over valid steps). Summing over units rather than averaging keeps the gradient of the rare active
    /// units (a note among dozens of silent pitches) from being diluted.
    /// </summary>
    public BatchLoss Step(FrameBatch batch, bool backward) => Run(batch, backward, null, out _);

    /// <summary>
    /// The training step of <see cref="Step(FrameBatch, bool)"/>; with <paramref name="backward"/> and <paramref name="gradientFlow"/>, the backward pass also reports
    /// ||dL/dh_t|| per layer, direction and time step of <see cref="Rnn"/> to <paramref name="gradientFlow"/>.
    /// </summary>
    public BatchLoss Step(FrameBatch batch, bool backward, IGradientFlowObserver? gradientFlow) => Run(batch, backward, gradientFlow, out _);

    /// <summary>
    /// Negative log-likelihood per time step in nats: summed over the units of a frame, averaged over the valid steps.
    /// The usual figure for polyphonic music models (Boulanger-Lewandowski et al. 2012).
    /// </summary>
    public double NllPerStep(FrameBatch batch)
    {
        double nll;
        using (EvaluationMode()) Run(batch, backward: false, null, out nll);
        return nll;
    }

    private BatchLoss Run(FrameBatch batch, bool backward, IGradientFlowObserver? gradientFlow, out double nllPerStep)
    {
        var frames = batch.Frames;
        int b = frames.Dim(0), t = frames.Dim(1), f = Config.FrameSize, h = Config.HiddenSize;
        if (frames.Dim(2) != f) throw new ArgumentException($"frames must have {f} units per step, got {frames.Dim(2)}", nameof(batch));
        // Inputs: frames shifted right by one step.
        var inputs = new Tensor(b, t, f);
        for (int i = 0; i < b; i++)
            frames.Span.Slice(i * t * f, Math.Max(0, (t - 1) * f)).CopyTo(inputs.Span.Slice(i * t * f + f));
        // Dropout on the inputs (identity in evaluation mode); the frames are data, so its backward is never needed.
        if (Training && Config.Dropout > 0f) inputs = inputDropout.Forward(inputs).Output;
        var bridgeOut = bridge.Forward(batch.Conditions);
        var bridged = Activations.Tanh(bridgeOut.Output);
        var h0 = Repeat(bridged.Output, Config.Layers);
        using var r = Rnn.Forward(inputs, batch.Lengths, h0, requiresGrad: backward, inputRequiresGrad: false);   // the frames are data
        var headOut = head.Forward(r.Output);
        var logits = headOut.Output;
        // Binary cross-entropy over valid steps only: mask padded steps out of loss and gradient.
        double total = 0;
        int validSteps = 0;
        var dLogits = backward ? new Tensor(b, t, f) : null;
        var lg = logits.Span;
        var y = frames.Span;
        for (int i = 0; i < b; i++) validSteps += batch.Lengths[i];
        for (int i = 0; i < b; i++)
            for (int s = 0; s < batch.Lengths[i]; s++)
                for (int u = 0; u < f; u++)
                {
                    int k = (i * t + s) * f + u;
                    double x = lg[k];
                    total += Math.Max(x, 0) - x * y[k] + Math.Log(1 + Math.Exp(-Math.Abs(x)));
                    if (dLogits is not null) dLogits.Span[k] = (float)((1 / (1 + Math.Exp(-x)) - y[k]) / validSteps);
                }
        nllPerStep = validSteps == 0 ? 0 : total / validSteps;
        if (backward && validSteps > 0)
        {
            var dOut = headOut.Backward(dLogits!);
            var g = r.Backward(dOut, gradientFlow: gradientFlow);
            var dBridged = new Tensor(b, h);
            for (int l = 0; l < Config.Layers; l++)
                TensorPrimitives.Add(dBridged.Span, g.HiddenState.Span.Slice(l * b * h, b * h), dBridged.Span);
            bridgeOut.BackwardToParameters(bridged.Backward(dBridged));   // the conditions are data
        }
        return new BatchLoss(nllPerStep, validSteps);
    }

    /// <summary>
    /// Generates <paramref name="steps"/> frames for one condition: each unit is drawn from Bernoulli(sigmoid(logit /
    /// temperature)) (temperature 0: on when its probability exceeds 0.5), after replaying <paramref name="seed"/>
    /// frames, which start the output.
    /// </summary>
    public float[] Generate(ReadOnlySpan<float> condition, int steps, float temperature, Rng rng, ReadOnlySpan<float> seed = default)
    {
        int f = Config.FrameSize;
        if (condition.Length != Config.ConditionSize) throw new ArgumentException($"condition must have {Config.ConditionSize} values, got {condition.Length}", nameof(condition));
        if (seed.Length % f != 0) throw new ArgumentException($"seed must hold whole frames of {f}, got {seed.Length} values", nameof(seed));
        if (!(temperature >= 0f)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be >= 0");
        using var mode = EvaluationMode();
        var output = new float[steps * f];
        int seedSteps = Math.Min(seed.Length / f, steps);
        seed[..(seedSteps * f)].CopyTo(output);
        var bridged = Activations.Tanh(bridge.Forward(Tensor.FromArray(condition.ToArray(), 1, Config.ConditionSize)).Output).Output;
        var state = RecurrentState.From(Repeat(bridged, Config.Layers), Config.Cell == RecurrentMode.Lstm ? new Tensor(Config.Layers, 1, Config.HiddenSize) : null);
        var previous = new float[f];
        for (int s = 0; s < steps; s++)
        {
            using var r = Rnn.Forward(Tensor.FromArray((float[])previous.Clone(), 1, 1, f), null, state.Hidden, state.Cell, requiresGrad: false);
            state = RecurrentState.Detach(r);
            if (s >= seedSteps) Sampling.Bernoulli(head.Forward(r.Output).Output.Span, temperature, rng, output.AsSpan(s * f, f));
            output.AsSpan(s * f, f).CopyTo(previous);
        }
        return output;
    }

    private static Tensor Repeat(Tensor x, int layers)
    {
        var r = new Tensor(layers, x.Dim(0), x.Dim(1));
        for (int l = 0; l < layers; l++) x.Span.CopyTo(r.Span.Slice(l * x.Length, x.Length));
        return r;
    }
}
