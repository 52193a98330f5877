namespace Recur.Kernels.Recurrent;

/// <summary>
/// Raw pointers for one (layer, direction) pass over the sequence, all into pinned buffers, time-major with the
/// batch sorted by length (descending) so the rows still running at step t are the prefix [0, Active[t]).
/// Shapes use B batch, T time, H hidden, G gates, D directions, R the width of h (the LSTM projection's P, else H).
/// </summary>
internal sealed unsafe class DirectionPass
{
    public int T, B, H, G, D;
    /// <summary>Units of h: the projection's P for an LSTM with one, else H.</summary>
    public int R;
    public bool Reverse;
    /// <summary>(T): rows still running at each step, non-increasing in t.</summary>
    public int[] Active = [];

    /// <summary>(T*B, InSize): layer input.</summary>
    public float* X; public int InSize;
    /// <summary>(T*B, D*R): layer output, already offset to this direction's columns.</summary>
    public float* Y;
    public int LdY => D * R;
    /// <summary>LSTM with a projection (T*B, H): m_t = o * tanh(c_t), which h_t = m_t W_hr^T projects; null without one.</summary>
    public float* M;
    /// <summary>Whether this is an LSTM pass with a projection (<see cref="M"/> is kept).</summary>
    public bool Projected => M != null;
    /// <summary>(T*B, G*H): pre-activations, then the activations the backward pass reads.</summary>
    public float* Gates;
    /// <summary>LSTM (T*B, H): c_t.</summary>
    public float* C;
    /// <summary>LSTM (T*B, H): tanh(c_t); null without backward.</summary>
    public float* TanhC;
    /// <summary>GRU (T*B, H): W_hn h + b_hn; null without backward.</summary>
    public float* Hn;
    /// <summary>GRU (B, 3H): scratch for one step's h W_hh^T.</summary>
    public float* GhStep;
    /// <summary>(B, R): variational recurrent-dropout mask (0 or 1/(1-p)) for this layer and direction, or null.</summary>
    public float* RecurrentMask;
    /// <summary>(B, R): scratch for h_prev * mask and the masked recurrent gradient (used only with a mask).</summary>
    public float* MaskedPrev;
    /// <summary>(B, R) initial state h0 and (LSTM, (B, H)) c0 for this layer and direction; zeros when not given.</summary>
    public float* H0, C0;
    /// <summary>Whether h0 / c0 were given (when not, GEMMs over them are skipped).</summary>
    public bool HasH0, HasC0;

    /// <summary>Weights (G*H, InSize), (G*H, R) and biases (G*H), or null without bias.</summary>
    public float* Wih, Whh, Bih, Bhh;
    /// <summary>
    /// (G*H): the bias the forward cell kernel adds to Gates[t] as it reads them: b_ih + b_hh, or b_ih alone for the
    /// GRU (whose kernel adds b_hh inside r * (W_hn h + b_hn)); null without bias.
    /// </summary>
    public float* GateBias;
    /// <summary>LSTM projection W_hr (R, H), or null without one.</summary>
    public float* Whr;
    /// <summary>W_hr^T and W_hr packed as right-hand sides (m W_hr^T forward, dh W_hr backward); null when skinny or absent.</summary>
    public PackedMatrix? WhrT, WhrN;
    /// <summary>W_hh^T packed as the right-hand side of h W_hh^T; null when every step is skinny.</summary>
    public PackedMatrix? WhhT;
    /// <summary>W_hh packed as the right-hand side of dGates W_hh; null when every step is skinny.</summary>
    public PackedMatrix? WhhN;
    public SimdWidth Width;
    /// <summary>
    /// The forward schedule this pass ran with; the backward pass runs batch-parallel when this is
    /// <see cref="RecurrentStepSchedule.BatchParallel"/>, per step otherwise.
    /// </summary>
    public RecurrentStepSchedule Schedule;

    // Backward
    /// <summary>(T*B, D*R): gradient of the output, offset to this direction's columns.</summary>
    public float* DY;
    /// <summary>(T*B, G*H): gradient of the input pre-activations.</summary>
    public float* DGates;
    /// <summary>(T*B, G*H): gradient of the recurrent pre-activations (same buffer as DGates except for GRU).</summary>
    public float* DGatesH;
    /// <summary>(B, R) running dL/dh and (LSTM, (B, H)) dL/dc.</summary>
    public float* DH, DC;
    /// <summary>Projection only: (T*B, R) everything that reached h_t at each step (for dW_hr), and (B, H) scratch for dL/dm_t.</summary>
    public float* DHAll, DM;

    public float* GatesAt(int t) => Gates + (long)t * B * G * H;
    public float* DGatesAt(int t) => DGates + (long)t * B * G * H;
    public float* DGatesHAt(int t) => DGatesH + (long)t * B * G * H;
    public float* YAt(int t) => Y + (long)t * B * LdY;
    public float* DYAt(int t) => DY + (long)t * B * LdY;
    public float* StateAt(float* buffer, int t) => buffer + (long)t * B * H;
    public float* DHAllAt(int t) => DHAll + (long)t * B * R;

    /// <summary>
    /// Where the previous state of the rows running at step t lives. The forward direction continues from
    /// step t-1 (or h0 at t = 0). The reverse direction continues from step t+1 for rows that were already
    /// running there, and starts from h0 for rows whose sequence ends at t (their own last valid step).
    /// </summary>
    public int PrevRanges(int t, Span<PrevRange> ranges)
    {
        int m = Active[t];
        if (!Reverse)
        {
            ranges[0] = t == 0
                ? new PrevRange(0, m, H0, R, C0, H, !HasH0, !HasC0)
                : new PrevRange(0, m, YAt(t - 1), LdY, C == null ? null : StateAt(C, t - 1), H, false, false);
            return 1;
        }
        int running = t + 1 < T ? Math.Min(Active[t + 1], m) : 0;
        int n = 0;
        if (running > 0)
            ranges[n++] = new PrevRange(0, running, YAt(t + 1), LdY, C == null ? null : StateAt(C, t + 1), H, false, false);
        if (running < m)
            ranges[n++] = new PrevRange(running, m, H0 + (long)running * R, R, C0 == null ? null : C0 + (long)running * H, H, !HasH0, !HasC0);
        return n;
    }
}
