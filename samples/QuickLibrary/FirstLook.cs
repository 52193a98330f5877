using Recur.Nn;
using Recur.Tensors;

namespace QuickLibrary;

/// <summary>README.md's "A first look at the library" example, line for line (ReadmeSampleTests keeps them equal).</summary>
internal static class FirstLook
{
    public static void Run()
    {
        var lstm = new Lstm(inputSize: 32, hiddenSize: 64, numLayers: 2, bidirectional: true, batchFirst: true, rng: new Rng(42));
        var x = new Tensor(8, 20, 32);                       // (B, T, I)
        int[] lengths = [20, 17, 20, 5, 0, 12, 20, 9];        // any order; 0 is allowed
        using var result = lstm.Forward(x, lengths);          // Output (B, T, 2*64), HiddenState/CellState (4, B, 64)
        var dOutput = new Tensor(8, 20, 128);                 // dL/dOutput, from whatever reads the output
        var grads = result.Backward(dOutput);                 // dL/dx, dL/dh0, dL/dc0; parameter gradients accumulate

        if (!result.Output.SameShape([8, 20, 128]) || !grads.Input.SameShape([8, 20, 32]))
            throw new InvalidOperationException($"first look: output ({string.Join(", ", result.Output.Shape.ToArray())}), dL/dx ({string.Join(", ", grads.Input.Shape.ToArray())}); expected (8, 20, 128) and (8, 20, 32)");
        Console.WriteLine("first look: LSTM forward (8, 20, 32) -> (8, 20, 128) and backward ran");
    }
}
