using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Nn;

/// <summary>Bad arguments get an exception naming the argument, with expected and actual values.</summary>
public class RecurrentValidationTests
{
    private static readonly Lstm Layer = new(inputSize: 4, hiddenSize: 3, numLayers: 2, bidirectional: true, rng: new Rng(1));

    [Fact]
    public void WrongInputWidth()
    {
        var e = Assert.Throws<ArgumentException>(() => Layer.Forward(new Tensor(5, 2, 7)));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("expected 4, got 7", e.Message);
    }

    [Fact]
    public void WrongInputRank()
    {
        var e = Assert.Throws<ArgumentException>(() => Layer.Forward(new Tensor(5, 4)));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("rank 3", e.Message);
        Assert.Contains("(5, 4)", e.Message);
    }

    [Fact]
    public void WrongStateShape()
    {
        var e = Assert.Throws<ArgumentException>(() => Layer.Forward(new Tensor(5, 2, 4), h0: new Tensor(2, 2, 3)));
        Assert.Equal("h0", e.ParamName);
        Assert.Contains("(4, 2, 3)", e.Message);
        Assert.Contains("got (2, 2, 3)", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Layer.Forward(new Tensor(5, 2, 4), c0: new Tensor(4, 3, 3)));
        Assert.Equal("c0", e2.ParamName);
    }

    [Fact]
    public void CellStateOnANonLstmLayer()
    {
        var gru = new Gru(4, 3);
        var e = Assert.Throws<ArgumentException>(() => gru.Forward(new Tensor(2, 1, 4), c0: new Tensor(1, 1, 3)));
        Assert.Equal("c0", e.ParamName);
    }

    [Theory]
    [InlineData(new[] { 5, 6 }, "lengths[1] must be in [0, T=5], got 6")]
    [InlineData(new[] { -1, 2 }, "lengths[0] must be in [0, T=5], got -1")]
    public void LengthsOutOfRange(int[] lengths, string message)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Layer.Forward(new Tensor(5, 2, 4), lengths));
        Assert.Equal("lengths", e.ParamName);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void LengthsOfTheWrongCount()
    {
        var e = Assert.Throws<ArgumentException>(() => Layer.Forward(new Tensor(5, 2, 4), [1, 2, 3]));
        Assert.Equal("lengths", e.ParamName);
        Assert.Contains("expected 2, got 3", e.Message);
    }

    [Fact]
    public void NonFiniteInputInsideTheValidLengthIsRejectedAndItsPositionNamed()
    {
        var x = new Tensor(5, 2, 4);
        x[3, 1, 2] = float.NaN;
        var e = Assert.Throws<ArgumentException>(() => Layer.Forward(x));
        Assert.Equal("input", e.ParamName);
        Assert.Contains("[t=3, b=1, i=2]", e.Message);
        // The same NaN in padding past the sequence's length is ignored, as with PyTorch's packing.
        using var ok = Layer.Forward(x, [5, 3]);
        Assert.All(ok.Output.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void NonFiniteInitialState()
    {
        var h0 = new Tensor(4, 2, 3);
        h0[1, 1, 1] = float.PositiveInfinity;
        var e = Assert.Throws<ArgumentException>(() => Layer.Forward(new Tensor(5, 2, 4), h0: h0));
        Assert.Equal("h0", e.ParamName);
    }

    [Fact]
    public void BadGradientShapesAndBackwardWithoutSavedActivations()
    {
        using var r = Layer.Forward(new Tensor(5, 2, 4));
        var e = Assert.Throws<ArgumentException>(() => r.Backward(new Tensor(5, 2, 5)));
        Assert.Equal("dOutput", e.ParamName);
        Assert.Contains("(5, 2, 6)", e.Message);
        using var inference = Layer.Forward(new Tensor(5, 2, 4), requiresGrad: false);
        Assert.Throws<InvalidOperationException>(() => inference.Backward(new Tensor(5, 2, 6)));
    }

    [Theory]
    [InlineData(0, 3, 1, 0f, "inputSize")]
    [InlineData(4, 0, 1, 0f, "hiddenSize")]
    [InlineData(4, 3, 0, 0f, "numLayers")]
    [InlineData(4, 3, 2, 1f, "dropout")]
    [InlineData(4, 3, 2, float.NaN, "dropout")]
    public void BadConstructorArguments(int input, int hidden, int layers, float dropout, string param)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Lstm(input, hidden, layers, dropout: dropout));
        Assert.Equal(param, e.ParamName);
    }

    [Fact]
    public void StateDictWithAWrongShapeIsRejected()
    {
        var layer = new Rnn(3, 2);
        var state = layer.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        state["weight_hh_l0"] = new Tensor(2, 3);
        var e = Assert.Throws<ArgumentException>(() => layer.LoadStateDict(state));
        Assert.Contains("weight_hh_l0", e.Message);
        Assert.Contains("expected (2, 2)", e.Message);
        state.Remove("weight_hh_l0");
        var e2 = Assert.Throws<ArgumentException>(() => layer.LoadStateDict(state));
        Assert.Contains("missing [weight_hh_l0]", e2.Message);
    }

    [Fact]
    public void ParameterNamesAndShapesFollowPyTorch()
    {
        var names = Layer.NamedParameters().Select(kv => $"{kv.Key}{Tensor.ShapeString(kv.Value.Value.Shape)}").ToArray();
        Assert.Equal([
            "weight_ih_l0(12, 4)", "weight_hh_l0(12, 3)", "bias_ih_l0(12,)", "bias_hh_l0(12,)",
            "weight_ih_l0_reverse(12, 4)", "weight_hh_l0_reverse(12, 3)", "bias_ih_l0_reverse(12,)", "bias_hh_l0_reverse(12,)",
            "weight_ih_l1(12, 6)", "weight_hh_l1(12, 3)", "bias_ih_l1(12,)", "bias_hh_l1(12,)",
            "weight_ih_l1_reverse(12, 6)", "weight_hh_l1_reverse(12, 3)", "bias_ih_l1_reverse(12,)", "bias_hh_l1_reverse(12,)",
        ], names);
    }

    [Fact]
    public void InitialisationIsUniformWithinOneOverSqrtH()
    {
        var layer = new Gru(10, 25, rng: new Rng(3));
        float bound = 1f / 5f;
        var all = layer.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        Assert.All(all, v => Assert.InRange(v, -bound, bound));
        Assert.True(all.Max() > 0.9f * bound && all.Min() < -0.9f * bound, "values should fill the interval");
        Assert.InRange(all.Average(), -0.01, 0.01);
    }
}

public class RecurrentOwnershipTests
{
    [Fact]
    public void ResultsAreUnreadableAfterDisposeSoRecycledMemoryIsNeverSeen()
    {
        var layer = new Gru(3, 4, rng: new Rng(1));
        var r = layer.Forward(new Tensor(2, 1, 3));
        var y = r.Output;
        var kept = r.Output.Clone();
        var g = r.Backward(new Tensor(2, 1, 4));
        r.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => y.Span.ToArray());
        Assert.Contains("Clone()", e.Message);
        Assert.Throws<ObjectDisposedException>(() => g.Input.ToArray());
        Assert.Throws<ObjectDisposedException>(() => r.Backward(null));
        Assert.Equal(6 * 4 / 3, kept.Length);
    }
}

public class ForgetBiasTests
{
    [Fact]
    public void SetsTheForgetGateBiasOfEveryLayerAndDirectionOnly()
    {
        var lstm = new Lstm(3, 4, numLayers: 2, bidirectional: true, rng: new Rng(1));
        var before = lstm.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        lstm.SetForgetGateBias(1f);
        foreach (var (name, t) in lstm.StateDict())
        {
            var v = t.ToArray();
            if (name.StartsWith("bias_ih"))
                for (int i = 0; i < 16; i++) Assert.Equal(i is >= 4 and < 8 ? 1f : before[name][i], v[i]);
            else if (name.StartsWith("bias_hh"))
                for (int i = 0; i < 16; i++) Assert.Equal(i is >= 4 and < 8 ? 0f : before[name][i], v[i]);
            else Assert.Equal(before[name], v);
        }
        Assert.Throws<InvalidOperationException>(() => new Gru(3, 4).SetForgetGateBias(1f));
    }
}
