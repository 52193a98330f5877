using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// A stack of Elman RNN layers, as <c>torch.nn.RNN</c>: h' = act(W_ih x + b_ih + W_hh h + b_hh) with act = tanh
/// (default) or relu. See <see cref="Recurrent"/>.
/// </summary>
public sealed class Rnn(int inputSize, int hiddenSize, int numLayers = 1, bool bidirectional = false,
    bool bias = true, bool batchFirst = false, float dropout = 0f, Rng? rng = null, bool relu = false, float recurrentDropout = 0f)
    : Recurrent(relu ? RecurrentMode.RnnRelu : RecurrentMode.RnnTanh, inputSize, hiddenSize, numLayers, bidirectional, bias, batchFirst, dropout, rng, recurrentDropout);
