using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Kernels;

/// <summary>
/// <c>Forward(..., inputRequiresGrad: false)</c> skips the first layer's dX and nothing else: outputs, final states,
/// state gradients and every weight gradient are bitwise those of the full backward pass.
/// </summary>
public class InputGradientTests
{
    [Theory]
    [InlineData(RecurrentMode.Lstm, 1, false)]
    [InlineData(RecurrentMode.Lstm, 2, true)]
    [InlineData(RecurrentMode.Gru, 2, true)]
    [InlineData(RecurrentMode.RnnTanh, 1, true)]
    [InlineData(RecurrentMode.RnnRelu, 2, false)]
    public void SkippingTheInputGradientChangesNothingElse(RecurrentMode mode, int layers, bool bidirectional)
    {
        const int T = 6, B = 7, I = 11, H = 19;
        (float[] Values, int InputGradLength) Run(bool inputGrad)
        {
            var layer = new Recurrent(mode, I, H, layers, bidirectional, rng: new Rng(21));
            var rng = new Rng(22);
            int LD = layers * (bidirectional ? 2 : 1);
            var x = Tensor.FromArray(Random(rng, T * B * I), T, B, I);
            var h0 = Tensor.FromArray(Random(rng, LD * B * H), LD, B, H);
            int[] lengths = [6, 0, 3, 6, 1, 5, 2];
            using var r = layer.Forward(x, lengths, h0, inputRequiresGrad: inputGrad);
            var g = r.Backward(Tensor.FromArray(Random(rng, T * B * layer.OutputSize), T, B, layer.OutputSize),
                Tensor.FromArray(Random(rng, LD * B * H), LD, B, H));
            var all = new List<float>();
            all.AddRange(r.Output.ToArray());
            all.AddRange(r.HiddenState.ToArray());
            all.AddRange(g.HiddenState.ToArray());
            if (g.CellState is not null) all.AddRange(g.CellState.ToArray());
            foreach (var p in layer.Parameters()) all.AddRange(p.Grad.ToArray());
            return (all.ToArray(), g.Input.Length);
        }
        var full = Run(true);
        var skipped = Run(false);
        Assert.Equal(T * B * I, full.InputGradLength);
        Assert.Equal(0, skipped.InputGradLength);
        Assert.Equal(System.Runtime.InteropServices.MemoryMarshal.AsBytes(full.Values.AsSpan()).ToArray(),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(skipped.Values.AsSpan()).ToArray());
    }

    private static float[] Random(Rng rng, int n)
    {
        var a = new float[n];
        rng.FillUniform(a, -1f, 1f);
        return a;
    }
}
