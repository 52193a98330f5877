using Recur.Tensors;

namespace Recur.Nn;

/// <summary>A stack of GRU layers, as <c>torch.nn.GRU</c> (gates r, z, n). See <see cref="Recurrent"/>.</summary>
public sealed class Gru(int inputSize, int hiddenSize, int numLayers = 1, bool bidirectional = false,
    bool bias = true, bool batchFirst = false, float dropout = 0f, Rng? rng = null, float recurrentDropout = 0f)
    : Recurrent(RecurrentMode.Gru, inputSize, hiddenSize, numLayers, bidirectional, bias, batchFirst, dropout, rng, recurrentDropout);
