namespace Recur.Kernels.Recurrent;

/// <summary>The parameters of one layer and direction, in PyTorch's names.</summary>
internal enum RecurrentWeight
{
    /// <summary><c>weight_ih</c>, (G*H, in).</summary>
    InputHidden,
    /// <summary><c>weight_hh</c>, (G*H, H).</summary>
    HiddenHidden,
    /// <summary><c>bias_ih</c>, (G*H).</summary>
    InputBias,
    /// <summary><c>bias_hh</c>, (G*H).</summary>
    HiddenBias,
    /// <summary><c>weight_hr</c>, (P, H): the LSTM projection; empty without one.</summary>
    Projection,
}
