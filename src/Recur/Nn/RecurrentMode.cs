namespace Recur.Nn;

/// <summary>The recurrent cell of a <see cref="Recurrent"/> layer, as PyTorch's <c>mode</c>.</summary>
public enum RecurrentMode
{
    /// <summary>Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh). PyTorch <c>RNN_TANH</c>.</summary>
    RnnTanh,
    /// <summary>Elman RNN with ReLU: h' = relu(W_ih x + b_ih + W_hh h + b_hh). PyTorch <c>RNN_RELU</c>.</summary>
    RnnRelu,
    /// <summary>Long short-term memory, gates i, f, g, o. PyTorch <c>LSTM</c>.</summary>
    Lstm,
    /// <summary>Gated recurrent unit, gates r, z, n with r applied to (W_hn h + b_hn). PyTorch <c>GRU</c>.</summary>
    Gru,
}
