namespace Recur.Kernels.Recurrent;

/// <summary>The recurrent cells the engine runs (the layer above maps its public mode onto these).</summary>
internal enum CellKind
{
    /// <summary>h' = tanh(W_ih x + b_ih + W_hh h + b_hh).</summary>
    RnnTanh,
    /// <summary>h' = relu(W_ih x + b_ih + W_hh h + b_hh).</summary>
    RnnRelu,
    /// <summary>LSTM, gates i, f, g, o.</summary>
    Lstm,
    /// <summary>GRU, gates r, z, n with r applied to (W_hn h + b_hn).</summary>
    Gru,
}
