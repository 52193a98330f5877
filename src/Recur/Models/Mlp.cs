using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of an <see cref="Mlp"/>.</summary>
public sealed record MlpConfig
{
    /// <summary>Input features.</summary>
    public required int Inputs { get; init; }
    /// <summary>Widths of the hidden layers (ReLU after each).</summary>
    public int[] Hidden { get; init; } = [64];
    /// <summary>Outputs: classes (classification) or values (regression).</summary>
    public required int Outputs { get; init; }
    /// <summary>Regression with MSE instead of classification with cross-entropy.</summary>
    public bool Regression { get; init; }
    /// <summary>Dropout after each hidden layer.</summary>
    public float Dropout { get; init; }
}

/// <summary>A batch of fixed-size inputs (B, F) with class targets or regression targets (B, outputs).</summary>
public sealed class DenseBatch
{
    /// <summary>Inputs (B, F).</summary>
    public required Tensor Inputs { get; init; }
    /// <summary>Class targets (B), for classification.</summary>
    public int[]? Classes { get; init; }
    /// <summary>Targets (B, outputs), for regression.</summary>
    public Tensor? Values { get; init; }
}

/// <summary>
/// A feed-forward network (one-to-one): fixed-size input, hidden layers with ReLU, a linear output. The baseline that
/// makes the RNN-versus-feed-forward contrast runnable on the same data.
/// </summary>
public sealed class Mlp : Module, ITrainable<DenseBatch>
{
    private readonly Linear[] layers;
    private readonly Dropout dropout;
    private readonly CrossEntropyLoss ce = new();

    /// <summary>Creates the network.</summary>
    public Mlp(MlpConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Inputs < 1) throw new ArgumentOutOfRangeException(nameof(config), config.Inputs, "Inputs must be >= 1");
        if (config.Outputs < 1) throw new ArgumentOutOfRangeException(nameof(config), config.Outputs, "Outputs must be >= 1");
        if (config.Hidden.Any(h => h < 1)) throw new ArgumentOutOfRangeException(nameof(config), "hidden widths must be >= 1");
        Config = config;
        var widths = new[] { config.Inputs }.Concat(config.Hidden).Append(config.Outputs).ToArray();
        layers = new Linear[widths.Length - 1];
        for (int i = 0; i < layers.Length; i++) layers[i] = AddModule($"layer{i}", new Linear(widths[i], widths[i + 1], rng: rng.Split()));
        dropout = AddModule("dropout", new Dropout(config.Dropout, rng.Split()));
    }

    /// <summary>The configuration.</summary>
    public MlpConfig Config { get; }
    Module ITrainable<DenseBatch>.Model => this;

    /// <summary>Outputs (B, outputs): logits or values.</summary>
    public Tensor Forward(Tensor inputs) => Run(inputs, out _, out _, out _);

    /// <summary>Runs every layer, keeping each one's result: linear, then relu and dropout after each hidden layer.</summary>
    private Tensor Run(Tensor x, out LinearOutput[] linear, out ActivationOutput[] relu, out DropoutOutput[] dropped)
    {
        linear = new LinearOutput[layers.Length];
        relu = new ActivationOutput[layers.Length - 1];
        dropped = new DropoutOutput[layers.Length - 1];
        for (int i = 0; i < layers.Length; i++)
        {
            linear[i] = layers[i].Forward(x);
            x = linear[i].Output;
            if (i + 1 < layers.Length)
            {
                relu[i] = Activations.Relu(x);
                dropped[i] = dropout.Forward(relu[i].Output);
                x = dropped[i].Output;
            }
        }
        return x;
    }

    /// <inheritdoc/>
    public BatchLoss Step(DenseBatch batch, bool backward)
    {
        var y = Run(batch.Inputs, out var linear, out var relu, out var dropped);
        var dy = backward ? new Tensor(y.Shape.ToArray()) : null;
        float l;
        if (Config.Regression) l = MseLoss.Forward(y, batch.Values ?? throw new ArgumentException("regression needs batch.Values", nameof(batch)), dy);
        else l = ce.Forward(y, batch.Classes ?? throw new ArgumentException("classification needs batch.Classes", nameof(batch)), dy);
        if (backward)
        {
            var d = dy!;
            for (int i = layers.Length - 1; i >= 0; i--)
            {
                if (i == 0)
                {
                    linear[0].BackwardToParameters(d);   // the inputs are data
                    break;
                }
                // the input of layer i = dropout(relu(z)): back through the mask, then through relu (from its output).
                d = relu[i - 1].Backward(dropped[i - 1].Backward(linear[i].Backward(d)));
            }
        }
        return new BatchLoss(l, batch.Inputs.Dim(0));
    }
}
