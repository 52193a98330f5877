using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of a <see cref="SequenceRegressor"/>.</summary>
public sealed record RegressorConfig
{
    /// <summary>Features per step.</summary>
    public required int InputFeatures { get; init; }
    /// <summary>Values predicted per sequence.</summary>
    public int Outputs { get; init; } = 1;
    /// <summary>The recurrent cell.</summary>
    public RecurrentMode Cell { get; init; } = RecurrentMode.Lstm;
    /// <summary>Hidden units.</summary>
    public int HiddenSize { get; init; } = 64;
    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 1;
    /// <summary>LSTM only: initial forget-gate bias (null: PyTorch's default initialisation). See <see cref="Recurrent.SetForgetGateBias"/>.</summary>
    public float? ForgetBias { get; init; }
}

/// <summary>Feature sequences (B, T, F) with lengths and real-valued targets (B, outputs).</summary>
public sealed class RegressionBatch
{
    /// <summary>Inputs (B, T, F).</summary>
    public required Tensor Inputs { get; init; }
    /// <summary>Valid steps per sequence (null: all).</summary>
    public int[]? Lengths { get; init; }
    /// <summary>Targets (B, outputs).</summary>
    public required Tensor Targets { get; init; }
}

/// <summary>
/// Many-to-one regression: a recurrent stack over feature vectors, a linear layer on the top layer's final hidden
/// state, mean squared error. The model of the adding problem; a training step can also report ||dL/dh_t|| to an
/// <see cref="IGradientFlowObserver"/> (see <see cref="Step(RegressionBatch, bool, IGradientFlowObserver?)"/>).
/// </summary>
public sealed class SequenceRegressor : Module, ITrainable<RegressionBatch>
{
    private readonly Linear head;

    /// <summary>Creates the model.</summary>
    public SequenceRegressor(RegressorConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.InputFeatures < 1) throw new ArgumentOutOfRangeException(nameof(config), config.InputFeatures, "InputFeatures must be >= 1");
        if (config.Outputs < 1) throw new ArgumentOutOfRangeException(nameof(config), config.Outputs, "Outputs must be >= 1");
        Config = config;
        Rnn = AddModule("rnn", new Recurrent(config.Cell, config.InputFeatures, config.HiddenSize, config.Layers, batchFirst: true, rng: rng.Split()));
        if (config.ForgetBias is { } fb) Rnn.SetForgetGateBias(fb);
        head = AddModule("head", new Linear(config.HiddenSize, config.Outputs, rng: rng.Split()));
    }

    /// <summary>The configuration.</summary>
    public RegressorConfig Config { get; }
    /// <summary>The recurrent stack.</summary>
    public Recurrent Rnn { get; }
    Module ITrainable<RegressionBatch>.Model => this;

    /// <summary>Predictions (B, outputs).</summary>
    public Tensor Predict(Tensor inputs, int[]? lengths = null)
    {
        using var r = Rnn.Forward(inputs, lengths, requiresGrad: false);
        return head.Forward(Top(r)).Output;
    }

    /// <inheritdoc/>
    public BatchLoss Step(RegressionBatch batch, bool backward) => Step(batch, backward, null);

    /// <summary>
    /// One training (or evaluation) step; with <paramref name="backward"/> and <paramref name="gradientFlow"/>, the
    /// backward pass also reports ||dL/dh_t|| per layer, direction and time step to <paramref name="gradientFlow"/>.
    /// </summary>
    public BatchLoss Step(RegressionBatch batch, bool backward, IGradientFlowObserver? gradientFlow)
    {
        using var r = Rnn.Forward(batch.Inputs, batch.Lengths, requiresGrad: backward, inputRequiresGrad: false);   // the sequences are data
        var last = Top(r);
        var headOut = head.Forward(last);
        var pred = headOut.Output;
        var d = backward ? new Tensor(pred.Shape.ToArray()) : null;
        float l = MseLoss.Forward(pred, batch.Targets, d);
        if (backward)
        {
            var dLast = headOut.Backward(d!);
            int b = last.Dim(0), h = Config.HiddenSize;
            var dHidden = new Tensor(r.HiddenState.Shape.ToArray());
            dLast.Span.CopyTo(dHidden.Span.Slice((Config.Layers - 1) * b * h, b * h));
            r.Backward(null, dHidden, gradientFlow: gradientFlow);
        }
        return new BatchLoss(l, batch.Inputs.Dim(0));
    }

    private Tensor Top(RecurrentOutput r)
    {
        int b = r.HiddenState.Dim(1), h = Config.HiddenSize;
        return Tensor.FromArray(r.HiddenState.Span.Slice((Config.Layers - 1) * b * h, b * h).ToArray(), b, h);
    }
}
