namespace Recur.Kernels.Recurrent;

/// <summary>Which packed form of a layer's weight: the right-hand side of which product.</summary>
internal enum PackedForm
{
    /// <summary>W_ih^T, (in, G*H): the input projection X W_ih^T.</summary>
    InputHiddenT,
    /// <summary>W_hh^T, (H, G*H): the recurrent product h W_hh^T.</summary>
    HiddenHiddenT,
    /// <summary>W_ih, (G*H, in): the input gradient dGates W_ih.</summary>
    InputHidden,
    /// <summary>W_hh, (G*H, H): the recurrent gradient dGates W_hh.</summary>
    HiddenHidden,
    /// <summary>W_hr^T, (H, P): the LSTM projection m W_hr^T.</summary>
    ProjectionT,
    /// <summary>W_hr, (P, H): the projection's gradient dh W_hr.</summary>
    Projection,
    /// <summary>W_hh^T, (R, G*Hpad), its columns gate-interleaved by blocks of NR hidden units (<see cref="PackedWeights.GetInterleaved"/>).</summary>
    HiddenHiddenInterleavedT,
}

/// <summary>
/// The packed GEMM operands of one layer stack's weights, kept across calls (ONNX Runtime packs W and R once per
/// session, oneDNN reorders them once): an entry is repacked only when the weight's version (its tensor's
/// <c>Version</c>, advanced by every writable access: an optimizer step, <c>LoadStateDict</c>, an initialiser) or the
/// vector width differs from the one it was packed at. A training step therefore packs each form once, inference
/// packs once per weight update. The layer owns one instance; calls on it may run on several threads at once
/// (entries are filled under a lock), but the weights must not change while a call that reads them runs.
/// </summary>
internal sealed unsafe class PackedWeights
{
    private const int FormCount = 7;
    private readonly object gate = new();
    private Entry?[] entries = [];

    private sealed class Entry
    {
        public readonly PackedMatrix Matrix = new();
        public long Version = long.MinValue;
        public SimdWidth Width;
        public bool Filled;
    }

    /// <summary>How many times an entry was (re)packed since the layer was made; for tests.</summary>
    public long PackCount { get; private set; }

    /// <summary>
    /// The packed op(W), (k, n), of pass <paramref name="pass"/> in form <paramref name="form"/>, packed from
    /// <paramref name="w"/> now when the cached copy was packed at another version, width or shape. The address is
    /// not compared: managed storage may move without changing; storage that changes (a parameter moved into an
    /// arena) advances the version.
    /// </summary>
    public PackedMatrix Get(int pass, PackedForm form, long version, SimdWidth width, Transpose trans, int k, int n, float* w, int ldw)
    {
        int index = pass * FormCount + (int)form;
        lock (gate)
        {
            if (index >= entries.Length) Array.Resize(ref entries, index + 1);
            var e = entries[index] ??= new Entry();
            if (!e.Filled || e.Version != version || e.Width != width
                || e.Matrix.K != k || e.Matrix.N != n)
            {
                e.Matrix.PackFrom(width, trans, k, n, w, ldw);
                e.Version = version;
                e.Width = width;
                e.Filled = true;
                PackCount++;
            }
            return e.Matrix;
        }
    }

    /// <summary>
    /// W_hh^T of pass <paramref name="pass"/> packed for hidden-unit blocks (oneDNN's gate-blocked reorder): W_hh
    /// (G*H, R) holds gate g of unit u in row g*H + u; the packed (R, G*Hpad) matrix, Hpad = H rounded up to the panel
    /// width NR, holds in panel ub*G + g the columns of gate g for units [ub*NR, ub*NR + NR), zero past H. A block of NR
    /// units then reads its G gates from G consecutive panels. Each column is a column of the ordinary W_hh^T, packed
    /// the same way, so a product over it sums every element in the same order. Cached like <see cref="Get"/>.
    /// </summary>
    public PackedMatrix GetInterleaved(int pass, long version, SimdWidth width, int gates, int hidden, int r, float* whh)
    {
        int index = pass * FormCount + (int)PackedForm.HiddenHiddenInterleavedT;
        int nr = Gemm.PanelWidth(width);
        int blocks = (hidden + nr - 1) / nr;
        int n = gates * blocks * nr;
        lock (gate)
        {
            if (index >= entries.Length) Array.Resize(ref entries, index + 1);
            var e = entries[index] ??= new Entry();
            if (!e.Filled || e.Version != version || e.Width != width || e.Matrix.K != r || e.Matrix.N != n)
            {
                // Rows of W_hh in interleaved order (the stored (N, K) form of the packed W_hh^T), zero rows past H.
                float[] rows = PinnedPool.Rent((long)n * r);
                try
                {
                    float* dst = PinnedPool.Address(rows);
                    for (int ub = 0; ub < blocks; ub++)
                        for (int g = 0; g < gates; g++)
                            for (int j = 0; j < nr; j++)
                            {
                                int u = ub * nr + j;
                                var row = new Span<float>(dst + ((long)(ub * gates + g) * nr + j) * r, r);
                                if (u < hidden) new ReadOnlySpan<float>(whh + ((long)g * hidden + u) * r, r).CopyTo(row);
                                else row.Clear();
                            }
                    e.Matrix.PackFrom(width, Transpose.Yes, r, n, dst, r);
                }
                finally { PinnedPool.Return(rows); }
                e.Version = version;
                e.Width = width;
                e.Filled = true;
                PackCount++;
            }
            return e.Matrix;
        }
    }

    /// <summary>Drops every packed copy (their memory too).</summary>
    public void Clear()
    {
        lock (gate) entries = [];
    }
}
