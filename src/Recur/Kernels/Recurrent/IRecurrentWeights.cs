namespace Recur.Kernels.Recurrent;

/// <summary>
/// Where the runner finds the parameters of a layer stack and their gradients, by pass index layer * D + direction.
/// The layer that owns the parameters implements it; the runner pins each span only while it reads or accumulates
/// into it, so the storage may be any slice of any array (a parameter arena, say).
/// </summary>
internal interface IRecurrentWeights
{
    /// <summary>The values of a parameter, for reading; empty for a bias when the layer has none.</summary>
    ReadOnlySpan<float> Value(int pass, RecurrentWeight which);

    /// <summary>The gradient of a parameter, which backward adds to; empty for a bias when the layer has none.</summary>
    Span<float> Gradient(int pass, RecurrentWeight which);

    /// <summary>A number that changes whenever the values of the parameter may have changed (its tensor's version).</summary>
    long Version(int pass, RecurrentWeight which);

    /// <summary>Called by backward once it has added everything it adds to the gradients of pass <paramref name="pass"/> (layer * D + direction).</summary>
    void GradientsDone(int pass);

    /// <summary>The packed weights kept across calls.</summary>
    PackedWeights Packed { get; }
}
