namespace Recur.Nn;

/// <summary>
/// Bytes a training run will need, estimated from sizes alone, before anything is allocated, so a size that cannot
/// fit is refused with a clear message instead of ending in the runtime's out-of-memory abort.
/// </summary>
/// <param name="ParameterBytes">Parameters and their gradients.</param>
/// <param name="OptimizerBytes">Optimizer moments (Adam: two per parameter).</param>
/// <param name="ActivationBytes">What one training step holds at once: saved activations and backward scratch for the
/// longest batch.</param>
public readonly record struct MemoryEstimate(long ParameterBytes, long OptimizerBytes, long ActivationBytes)
{
    /// <summary>All of it.</summary>
    public long TotalBytes => Saturating(Saturating(ParameterBytes, OptimizerBytes), ActivationBytes);

    /// <summary>The sum of two estimates.</summary>
    public static MemoryEstimate operator +(MemoryEstimate a, MemoryEstimate b) =>
        new(Saturating(a.ParameterBytes, b.ParameterBytes), Saturating(a.OptimizerBytes, b.OptimizerBytes), Saturating(a.ActivationBytes, b.ActivationBytes));

    /// <summary>
    /// A recurrent stack (<see cref="Recurrent"/>) trained on batches of <paramref name="batch"/> sequences of up to
    /// <paramref name="steps"/> steps, with <paramref name="optimizerMoments"/> moments per parameter. Counts what the
    /// engine allocates: the input, every layer's output, gates (and c, tanh c for LSTM; W_hn h for GRU), dropout masks,
    /// the result tensors, and the backward pass's gradient buffers.
    /// </summary>
    public static MemoryEstimate ForRecurrent(RecurrentMode mode, int inputSize, int hiddenSize, int numLayers, bool bidirectional,
        int steps, int batch, int optimizerMoments = 2, bool dropout = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputSize);
        ArgumentOutOfRangeException.ThrowIfNegative(hiddenSize);
        ArgumentOutOfRangeException.ThrowIfNegative(numLayers);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(optimizerMoments);
        double g = mode switch { RecurrentMode.Lstm => 4, RecurrentMode.Gru => 3, _ => 1 };
        double d = bidirectional ? 2 : 1, h = hiddenSize, rows = (double)steps * batch;
        double perStateBuffers = mode switch { RecurrentMode.Lstm => 2, RecurrentMode.Gru => 1, _ => 0 };   // c and tanh c, or W_hn h

        double parameters = 0, activations = rows * inputSize * 2;   // gathered input and dL/dinput
        double largestInput = inputSize;
        for (int l = 0; l < numLayers; l++)
        {
            double inSize = l == 0 ? inputSize : d * h;
            largestInput = Math.Max(largestInput, inSize);
            parameters += d * g * h * (inSize + h + 2);
            activations += rows * d * h;                               // layer output
            activations += d * rows * h * (g + perStateBuffers);       // gates and state buffers per direction
            if (dropout && l + 1 < numLayers) activations += 2 * rows * d * h;
            activations += rows * inSize;                              // dL/dX of the layer (kept until backward ends)
        }
        activations += rows * d * h * 2;                                // output tensor and dL/dY
        if (mode == RecurrentMode.Gru) activations += rows * g * h;     // dGates_h (dGates is written over the gates)
        activations += (double)numLayers * d * batch * h * 4;           // states in and out, and their gradients
        return FromFloats(parameters * 2, parameters * optimizerMoments, activations);
    }

    /// <summary>A dense part (embedding, output layer): its parameters, and <paramref name="activationFloats"/> floats of activations.</summary>
    public static MemoryEstimate ForDense(double parameterCount, double activationFloats, int optimizerMoments = 2) =>
        FromFloats(parameterCount * 2, parameterCount * optimizerMoments, activationFloats);

    /// <summary>Bytes as a short human-readable size (KB, MB, GB, TB; powers of 1024).</summary>
    public static string Format(long bytes)
    {
        string[] units = ["bytes", "KB", "MB", "GB", "TB", "PB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} bytes" : v.ToString(v < 10 ? "0.0" : "0", System.Globalization.CultureInfo.InvariantCulture) + " " + units[u];
    }

    private static MemoryEstimate FromFloats(double parameterFloats, double optimizerFloats, double activationFloats) =>
        new(Bytes(parameterFloats), Bytes(optimizerFloats), Bytes(activationFloats));

    private static long Bytes(double floats) => floats * sizeof(float) >= long.MaxValue ? long.MaxValue : (long)(floats * sizeof(float));

    private static long Saturating(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
}
