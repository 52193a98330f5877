using Recur.Nn;
using Recur.Tensors;

namespace Recur.IO;

/// <summary>The configuration of a bare <see cref="Recurrent"/> stack in a model file (its constructor's arguments).</summary>
public sealed record RecurrentConfig
{
    /// <summary>The recurrent cell.</summary>
    public required RecurrentMode Cell { get; init; }
    /// <summary>Input features per step.</summary>
    public required int InputSize { get; init; }
    /// <summary>Hidden units.</summary>
    public required int HiddenSize { get; init; }
    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 1;
    /// <summary>Two directions per layer.</summary>
    public bool Bidirectional { get; init; }
    /// <summary>Bias vectors.</summary>
    public bool Bias { get; init; } = true;
    /// <summary>Inputs and outputs are (B, T, ...) instead of (T, B, ...).</summary>
    public bool BatchFirst { get; init; }
    /// <summary>Dropout between layers.</summary>
    public float Dropout { get; init; }
    /// <summary>Variational dropout on the recurrent connection.</summary>
    public float RecurrentDropout { get; init; }
    /// <summary>LSTM projection units (PyTorch's <c>proj_size</c>); 0 for none, and then not written to model files.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public int ProjSize { get; init; }

    /// <summary>The configuration of an existing stack.</summary>
    public static RecurrentConfig Of(Recurrent r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new()
        {
            Cell = r.Mode, InputSize = r.InputSize, HiddenSize = r.HiddenSize, Layers = r.NumLayers, Bidirectional = r.Bidirectional,
            Bias = r.HasBias, BatchFirst = r.BatchFirst, Dropout = r.Dropout, RecurrentDropout = r.RecurrentDropout, ProjSize = r.ProjSize,
        };
    }

    /// <summary>A new stack with this configuration.</summary>
    public Recurrent Create(Rng rng) =>
        new(Cell, InputSize, HiddenSize, Layers, Bidirectional, Bias, BatchFirst, Dropout, rng, RecurrentDropout, ProjSize);
}
