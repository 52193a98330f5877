namespace Recur.Nn;

/// <summary>
/// An <see cref="IGradientFlowObserver"/> that keeps the latest curve of every layer and direction it observed.
/// </summary>
public sealed class GradientFlowRecorder : IGradientFlowObserver
{
    private readonly Dictionary<(int Layer, int Direction), double[]> flows = [];

    /// <summary>
    /// ||dL/dh_t|| per time step t of layer <paramref name="layer"/> and direction <paramref name="direction"/> from the
    /// latest backward pass observed, or null when none was.
    /// </summary>
    public double[]? Flow(int layer = 0, int direction = 0) => flows.GetValueOrDefault((layer, direction));

    /// <inheritdoc/>
    public void Observe(int layer, int direction, ReadOnlySpan<double> norms) => flows[(layer, direction)] = norms.ToArray();
}
