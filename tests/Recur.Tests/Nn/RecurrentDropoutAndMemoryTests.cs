using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Support;

namespace Recur.Tests.Nn;

public class RecurrentDropoutAndMemoryTests
{
    [Fact]
    public void DropoutBetweenLayersIsActiveOnlyInTrainingAndBackpropagatesThroughTheMask()
    {
        int T = 4, B = 3, I = 3, H = 5;
        var stacked = new Lstm(I, H, numLayers: 2, dropout: 0.4f, rng: new Rng(1));
        var rng = new Rng(2);
        var x = Tensor.FromArray(RecurrentTests.RandomArray(rng, T * B * I), T, B, I);
        var dy = Tensor.FromArray(RecurrentTests.RandomArray(rng, T * B * H), T, B, H);

        // Evaluation mode: no dropout, same as the layers run one after the other.
        var first = new Lstm(I, H, rng: new Rng(10));
        var second = new Lstm(H, H, rng: new Rng(11));
        first.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight_ih_l0"] = stacked.StateDict()["weight_ih_l0"], ["weight_hh_l0"] = stacked.StateDict()["weight_hh_l0"],
            ["bias_ih_l0"] = stacked.StateDict()["bias_ih_l0"], ["bias_hh_l0"] = stacked.StateDict()["bias_hh_l0"],
        });
        second.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight_ih_l0"] = stacked.StateDict()["weight_ih_l1"], ["weight_hh_l0"] = stacked.StateDict()["weight_hh_l1"],
            ["bias_ih_l0"] = stacked.StateDict()["bias_ih_l1"], ["bias_hh_l0"] = stacked.StateDict()["bias_hh_l1"],
        });
        stacked.Training = false;
        using (var eval = stacked.Forward(x))
        using (var y1 = first.Forward(x))
        using (var y2 = second.Forward(y1.Output))
            Assert.Equal(y2.Output.ToArray(), eval.Output.ToArray());

        // Training mode: layer 1 reads layer 0's output times the mask; gradients flow back through the same mask.
        stacked.Training = true;
        using var train = stacked.Forward(x);
        var mask = train.DropoutMaskSorted(0)!; // no lengths given: sorted order is the identity
        Assert.Contains(0f, mask);
        Assert.Contains(1f / 0.6f, mask);
        stacked.ZeroGrad();
        var g = train.Backward(dy);

        using var a = first.Forward(x);
        var dropped = a.Output.Clone();
        TensorPrimitives.Multiply(dropped.Span, mask, dropped.Span);
        using var b = second.Forward(dropped);
        var report = new Compare.Report(1e-6);
        report.Check("y", train.Output.Span, b.Output.ToArray().Select(v => (double)v).ToArray());
        var gb = b.Backward(dy);
        var dIn = gb.Input.Clone();
        TensorPrimitives.Multiply(dIn.Span, mask, dIn.Span);
        var ga = a.Backward(dIn);
        report.Check("dx", g.Input.Span, ga.Input.ToArray().Select(v => (double)v).ToArray());
        report.Check("dW_ih_l1", stacked.StateDictGrad("weight_ih_l1"), second.Parameters().First().Grad.ToArray().Select(v => (double)v).ToArray());
        report.Check("dW_ih_l0", stacked.StateDictGrad("weight_ih_l0"), first.Parameters().First().Grad.ToArray().Select(v => (double)v).ToArray());
        report.AssertAll();
    }

}

/// <summary>Measures process-wide allocation, so it runs alone.</summary>
[Collection(nameof(IsolatedCollection))]
public class RecurrentAllocationTests
{
    [Fact]
    public void NothingIsAllocatedPerTimeStep()
    {
        // Allocation must not grow with T beyond the result tensors, whose sizes are known.
        var layer = new Lstm(32, 48, numLayers: 2, bidirectional: true, rng: new Rng(1));
        int B = 8;
        long Allocated(int T)
        {
            var x = new Tensor(T, B, 32);
            var dy = new Tensor(T, B, 96);
            int[] lens = Enumerable.Range(0, B).Select(b => T - b % 3).ToArray();
            for (int warm = 0; warm < 2; warm++)
            {
                using var w = layer.Forward(x, lens);
                w.Backward(dy);
            }
            long before = GC.GetTotalAllocatedBytes(precise: true);
            using (var r = layer.Forward(x, lens)) r.Backward(dy);
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }
        long shortRun = Allocated(10), longRun = Allocated(40);
        // Per extra step: Output (B*96 floats) and dInput (B*32 floats), plus 4 bytes of the per-call active-row table.
        long perStepResults = 30L * (B * 96 + B * 32) * sizeof(float) + 30L * sizeof(int);
        long slack = 30L * 8; // well under one object per step
        Assert.True(longRun - shortRun <= perStepResults + slack,
            $"T=40 allocated {longRun} bytes, T=10 {shortRun}: {longRun - shortRun - perStepResults} bytes more than the larger results explain");
    }
}
