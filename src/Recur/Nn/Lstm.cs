using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// A stack of LSTM layers, as <c>torch.nn.LSTM</c> (gates i, f, g, o), with an optional recurrent projection
/// (<paramref name="projSize"/> &gt; 0, PyTorch's <c>proj_size</c>). See <see cref="Recurrent"/>.
/// </summary>
public sealed class Lstm(int inputSize, int hiddenSize, int numLayers = 1, bool bidirectional = false,
    bool bias = true, bool batchFirst = false, float dropout = 0f, Rng? rng = null, float recurrentDropout = 0f, int projSize = 0)
    : Recurrent(RecurrentMode.Lstm, inputSize, hiddenSize, numLayers, bidirectional, bias, batchFirst, dropout, rng, recurrentDropout, projSize);
