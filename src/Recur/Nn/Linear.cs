using Recur.Kernels;
using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// Fully connected layer, as <c>torch.nn.Linear</c>: y = x W^T + b with W (out, in) and b (out), applied to the last
/// dimension of x (any leading dimensions). Initialised from U(-1/sqrt(in), 1/sqrt(in)), PyTorch's default.
/// </summary>
public sealed class Linear : Module
{
    /// <summary>Creates the layer.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true, Rng? rng = null)
    {
        if (inFeatures < 1) throw new ArgumentOutOfRangeException(nameof(inFeatures), inFeatures, "inFeatures must be >= 1");
        if (outFeatures < 1) throw new ArgumentOutOfRangeException(nameof(outFeatures), outFeatures, "outFeatures must be >= 1");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = AddParameter("weight", outFeatures, inFeatures);
        Bias = bias ? AddParameter("bias", outFeatures) : null;
        rng ??= new Rng(0);
        float bound = 1f / MathF.Sqrt(inFeatures);
        rng.FillUniform(Weight.Value.Span, -bound, bound);
        if (Bias is not null) rng.FillUniform(Bias.Value.Span, -bound, bound);
    }

    /// <summary>
    /// A layer whose weight (out, in) is another module's parameter, e.g. an embedding matrix (V, E) for tied input and
    /// output embeddings. The weight is not registered here, so it is saved, counted and stepped once, under its
    /// owner's name; backward adds dW to the shared gradient, next to what the owner adds. Only the bias (initialised
    /// from U(-1/sqrt(in), 1/sqrt(in))) belongs to this layer.
    /// </summary>
    public Linear(Parameter sharedWeight, bool bias = true, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(sharedWeight);
        if (sharedWeight.Value.Rank != 2) throw new ArgumentException($"sharedWeight must be a matrix (out, in), got shape {Tensor.ShapeString(sharedWeight.Value.Shape)}", nameof(sharedWeight));
        OutFeatures = sharedWeight.Value.Dim(0);
        InFeatures = sharedWeight.Value.Dim(1);
        Weight = sharedWeight;
        Bias = bias ? AddParameter("bias", OutFeatures) : null;
        float bound = 1f / MathF.Sqrt(InFeatures);
        if (Bias is not null) (rng ?? new Rng(0)).FillUniform(Bias.Value.Span, -bound, bound);
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }
    /// <summary>Output features.</summary>
    public int OutFeatures { get; }
    /// <summary>W, (out, in).</summary>
    public Parameter Weight { get; }
    /// <summary>b, (out), or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>y = x W^T + b; x (..., in) gives y (..., out). The result keeps x for its backward.</summary>
    public LinearOutput Forward(Tensor input)
    {
        int rows = CheckInput(input, nameof(input));
        var shape = input.Shape.ToArray();
        shape[^1] = OutFeatures;
        var y = new Tensor(shape);
        Gemm.Sgemm(Transpose.No, Transpose.Yes, rows, OutFeatures, InFeatures, 1f, input.Span, InFeatures, Weight.Value.Span, InFeatures, 0f, y.Span, OutFeatures);
        if (Bias is not null)
        {
            var b = Bias.Value.Span;
            var ys = y.Span;
            for (int r = 0; r < rows; r++)
            {
                var row = ys.Slice(r * OutFeatures, OutFeatures);
                TensorPrimitives.Add(row, b, row);
            }
        }
        return new LinearOutput(this, input, y);
    }

    /// <summary>
    /// Adds dW += dy^T x and db += sum(dy) to the gradients and returns dx = dy W (null when
    /// <paramref name="inputGrad"/> is false). Called by <see cref="LinearOutput"/>, which holds x.
    /// </summary>
    internal Tensor? Backward(Tensor input, Tensor dOutput, bool inputGrad)
    {
        int rows = input.Length / InFeatures;
        ArgumentNullException.ThrowIfNull(dOutput);
        var expected = input.Shape.ToArray();
        expected[^1] = OutFeatures;
        if (!dOutput.SameShape(expected))
            throw new ArgumentException($"dOutput must have shape {Tensor.ShapeString(expected)}, got {Tensor.ShapeString(dOutput.Shape)}", nameof(dOutput));
        // y = x W^T + b  =>  dW += dy^T x, db += sum over rows of dy, dx = dy W
        Gemm.Sgemm(Transpose.Yes, Transpose.No, OutFeatures, InFeatures, rows, 1f, dOutput.Span, OutFeatures, input.Span, InFeatures, 1f, Weight.Grad.Span, InFeatures);
        if (Bias is not null)
        {
            var g = Bias.Grad.Span;
            var dy = dOutput.Span;
            for (int r = 0; r < rows; r++) TensorPrimitives.Add(g, dy.Slice(r * OutFeatures, OutFeatures), g);
        }
        Weight.OnGradientAccumulated();
        Bias?.OnGradientAccumulated();
        if (!inputGrad) return null;
        var dx = new Tensor(input.Shape.ToArray());
        Gemm.Sgemm(Transpose.No, Transpose.No, rows, InFeatures, OutFeatures, 1f, dOutput.Span, OutFeatures, Weight.Value.Span, InFeatures, 0f, dx.Span, InFeatures);
        return dx;
    }

    private int CheckInput(Tensor input, string name)
    {
        ArgumentNullException.ThrowIfNull(input, name);
        if (input.Rank < 1 || input.Dim(-1) != InFeatures)
            throw new ArgumentException($"{name}.Shape[^1] must equal InFeatures (expected {InFeatures}, got {(input.Rank < 1 ? "a scalar" : input.Dim(-1).ToString())})", name);
        return input.Length / InFeatures;
    }
}
