using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Nn;

/// <summary>
/// Backward writes the gate gradients over the saved activations (no separate dGates buffer), so it runs once per
/// Forward: a second call is refused with a clear message instead of reading gradients as activations.
/// </summary>
public class BackwardOnceTests
{
    [Theory]
    [InlineData(RecurrentMode.Lstm)]
    [InlineData(RecurrentMode.Gru)]
    [InlineData(RecurrentMode.RnnTanh)]
    public void ASecondBackwardIsRefusedAndAFreshForwardGivesTheSameGradients(RecurrentMode mode)
    {
        var layer = new Recurrent(mode, 5, 7, 2, bidirectional: true, rng: new Rng(3));
        var x = new Tensor(4, 3, 5);
        new Rng(4).FillUniform(x.Span, -1, 1);
        var dy = new Tensor(4, 3, 14);
        new Rng(5).FillUniform(dy.Span, -1, 1);

        float[] first;
        using (var r = layer.Forward(x))
        {
            first = r.Backward(dy).Input.Span.ToArray();
            var e = Assert.Throws<InvalidOperationException>(() => r.Backward(dy));
            Assert.Contains("once per Forward", e.Message);
        }
        using (var r = layer.Forward(x))
            Assert.Equal(first, r.Backward(dy).Input.Span.ToArray());
        Assert.Contains(first, v => v != 0f);
    }
}
