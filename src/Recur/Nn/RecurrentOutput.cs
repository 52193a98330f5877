using Recur.Kernels;
using Recur.Kernels.Recurrent;
using Recur.Tensors;

namespace Recur.Nn;

/// <summary>Gradients returned by <see cref="RecurrentOutput.Backward"/>; valid until that output is disposed.</summary>
/// <param name="Input">dL/d input, same shape as the input (zero at padded steps); an empty tensor (last dimension 0)
/// when the forward pass was run with <c>inputRequiresGrad: false</c>.</param>
/// <param name="HiddenState">dL/d h0, (L*D, B, H) (P with a projection).</param>
/// <param name="CellState">dL/d c0, (L*D, B, H), LSTM only.</param>
public sealed record RecurrentGradients(Tensor Input, Tensor HiddenState, Tensor? CellState);

/// <summary>
/// The result of <see cref="Recurrent.Forward"/>: outputs, final states and what <see cref="Backward"/> needs.
/// Everything lives in pooled buffers, so repeated calls allocate almost nothing: <see cref="Output"/>, the states and
/// the gradients <see cref="Backward"/> returns are valid until this object is disposed (reading them afterwards
/// throws <see cref="ObjectDisposedException"/>); Clone() what you keep. The work itself is done by the engine in
/// <c>Kernels/Recurrent</c>; this class owns its result and the engine's buffers for this pass.
/// </summary>
public sealed class RecurrentOutput : IDisposable, IBufferOwner
{
    private readonly Recurrent layer;
    private readonly RecurrentRunner runner;
    private readonly List<float[]> rented = [];
    private bool disposed;

    internal RecurrentOutput(Recurrent layer, int steps, int[] lengths, bool requiresGrad, bool inputRequiresGrad = true)
    {
        this.layer = layer;
        runner = new RecurrentRunner(layer.Cell, new SortedBatch(lengths, steps), layer.InputSize, layer.HiddenSize,
            layer.NumLayers, layer.Directions, layer.BatchFirst, requiresGrad, layer.Engine, inputRequiresGrad, layer.ProjSize);
    }

    /// <summary>Outputs of the last layer: (T, B, D*H), or (B, T, D*H) when batch-first (P for H with a projection); zero past each length.</summary>
    public Tensor Output { get; private set; } = null!;

    /// <summary>Final hidden states h_n, (L*D, B, H) (P with a projection), index layer*D + direction.</summary>
    public Tensor HiddenState { get; private set; } = null!;

    /// <summary>Final cell states c_n, (L*D, B, H), LSTM only.</summary>
    public Tensor? CellState { get; private set; }

    /// <summary>A result tensor in a pooled buffer owned by this object (valid until <see cref="Dispose"/>).</summary>
    private Tensor RentTensor(params int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        float[] a = PinnedPool.RentAligned(Math.Max(1, n), out int offset);
        rented.Add(a);
        return Tensor.View(a, offset, shape, this);
    }

    bool IBufferOwner.IsReleased => disposed;

    internal void RunForward(Tensor input, Tensor? h0, Tensor? c0, float dropout, float recurrentDropout)
    {
        int T = layer.BatchFirst ? input.Dim(1) : input.Dim(0), B = layer.BatchFirst ? input.Dim(0) : input.Dim(1);
        int LD = layer.NumLayers * layer.Directions, H = layer.HiddenSize;
        HiddenState = RentTensor(LD, B, layer.StateSize);
        CellState = layer.Mode == RecurrentMode.Lstm ? RentTensor(LD, B, H) : null;
        Output = layer.BatchFirst ? RentTensor(B, T, layer.OutputSize) : RentTensor(T, B, layer.OutputSize);
        runner.Forward(input.Span, h0 is null ? default : h0.Span, c0 is null ? default : c0.Span, layer,
            dropout > 0f || recurrentDropout > 0f ? layer : null, dropout, recurrentDropout,
            Output.Span, HiddenState.Span, CellState is null ? default : CellState.Span);
    }

    /// <summary>
    /// Backpropagation through time. Adds dL/dW to every parameter's <see cref="Parameter.Grad"/> and returns
    /// the gradients of the input and the initial states. Any of the incoming gradients may be null (zero).
    /// Runs once per <see cref="Recurrent.Forward"/>: the gate gradients are written over the saved activations.
    /// </summary>
    /// <param name="dOutput">dL/d <see cref="Output"/>, same shape; values at padded steps are ignored.</param>
    /// <param name="dHiddenState">dL/d <see cref="HiddenState"/>, (L*D, B, H).</param>
    /// <param name="dCellState">dL/d <see cref="CellState"/>, (L*D, B, H), LSTM only.</param>
    /// <param name="gradientFlow">
    /// Optional diagnostics: receives ||dL/dh_t|| at every time step of every layer and direction (see
    /// <see cref="IGradientFlowObserver"/>). Costs one pass over dL/dh per step; nothing is recorded without an
    /// observer, and nothing is left on the layer. A model passes its step's observer here (for example
    /// <c>SequenceClassifier.Step(batch, backward, gradientFlow)</c>).
    /// </param>
    public RecurrentGradients Backward(Tensor? dOutput, Tensor? dHiddenState = null, Tensor? dCellState = null, IGradientFlowObserver? gradientFlow = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!runner.RequiresGrad)
            throw new InvalidOperationException("Backward needs the activations saved by Forward(requiresGrad: true); this output was computed with requiresGrad: false");
        if (runner.BackwardDone)
            throw new InvalidOperationException("Backward runs once per Forward (it writes the gate gradients over the saved activations, as PyTorch frees its graph); call Forward again for a second backward pass");
        if (dOutput is not null && !dOutput.SameShape(Output.Shape))
            throw new ArgumentException($"dOutput must have the output's shape {Tensor.ShapeString(Output.Shape)}, got {Tensor.ShapeString(dOutput.Shape)}", nameof(dOutput));
        if (dHiddenState is not null && !dHiddenState.SameShape(HiddenState.Shape))
            throw new ArgumentException($"dHiddenState must have shape {Tensor.ShapeString(HiddenState.Shape)}, got {Tensor.ShapeString(dHiddenState.Shape)}", nameof(dHiddenState));
        if (dCellState is not null && (CellState is null || !dCellState.SameShape(CellState.Shape)))
            throw new ArgumentException(CellState is null
                ? $"dCellState is only used by LSTM, but this layer is {layer.Mode}"
                : $"dCellState must have shape {Tensor.ShapeString(CellState.Shape)}, got {Tensor.ShapeString(dCellState.Shape)}", nameof(dCellState));
        foreach (var (t, name) in new[] { (dOutput, nameof(dOutput)), (dHiddenState, nameof(dHiddenState)), (dCellState, nameof(dCellState)) })
            if (t is not null && !TensorPrimitives.IsFiniteAll<float>(t.Span))
                throw new ArgumentException($"{name} contains NaN or infinity", name);

        int LD = layer.NumLayers * layer.Directions;
        double[][]? flow = null;
        if (gradientFlow is not null)
        {
            int T = Output.Dim(layer.BatchFirst ? 1 : 0);
            flow = new double[LD][];
            for (int k = 0; k < LD; k++) flow[k] = new double[T];
        }

        var dInput = runner.InputRequiresGrad ? RentTensor(Output.Dim(0), Output.Dim(1), layer.InputSize) : RentTensor(Output.Dim(0), Output.Dim(1), 0);
        var dH0 = RentTensor(HiddenState.Shape.ToArray());
        var dC0 = CellState is null ? null : RentTensor(CellState.Shape.ToArray());
        runner.Backward(dOutput is null ? default : dOutput.Span, dHiddenState is null ? default : dHiddenState.Span,
            dCellState is null ? default : dCellState.Span, layer, flow, runner.InputRequiresGrad ? dInput.Span : default, dH0.Span, dC0 is null ? default : dC0.Span);

        if (flow is not null)
            for (int k = 0; k < LD; k++)
            {
                int l = k / layer.Directions, d = k % layer.Directions;
                gradientFlow!.Observe(l, d, flow[k]);
            }
        return new RecurrentGradients(dInput, dH0, dC0);
    }

    /// <summary>The dropout mask applied to layer <paramref name="layerIndex"/>'s output (time-major, batch sorted by length), or null.</summary>
    internal float[]? DropoutMaskSorted(int layerIndex) => runner.DropoutMaskSorted(layerIndex);

    /// <summary>How the backward pass ran the time loop of a layer and direction (batch-parallel or per step); Auto before it ran.</summary>
    internal RecurrentStepSchedule BackwardSchedule(int layerIndex, int direction) => runner.BackwardSchedule(layerIndex, direction);

    /// <summary>The recurrent-dropout mask of a layer and direction, (B, H) in original batch order, or null.</summary>
    internal float[]? RecurrentMaskOriginal(int layerIndex, int direction) => runner.RecurrentMaskOriginal(layerIndex, direction);

    /// <summary>Returns every buffer to the pool; the tensors this object handed out become unreadable.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        runner.Dispose();
        foreach (var a in rented) PinnedPool.Return(a);
        rented.Clear();
    }
}
