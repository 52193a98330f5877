using Recur.Kernels;
using Recur.Tensors;

namespace Recur.Nn;

/// <summary>Gradients returned by <see cref="RecurrentOutput.Backward"/>; valid until that output is disposed.</summary>
/// <param name="Input">dL/d input, same shape as the input (zero at padded steps).</param>
/// <param name="HiddenState">dL/d h0, (L*D, B, H).</param>
/// <param name="CellState">dL/d c0, (L*D, B, H), LSTM only.</param>
public sealed record RecurrentGradients(Tensor Input, Tensor HiddenState, Tensor? CellState);

/// <summary>
/// The result of <see cref="Recurrent.Forward"/>: outputs, final states and the saved activations that
/// <see cref="Backward"/> reads. Everything lives in pooled buffers, so repeated calls allocate almost nothing:
/// <see cref="Output"/>, the states and the gradients <see cref="Backward"/> returns are valid until this object is
/// disposed (reading them afterwards throws <see cref="ObjectDisposedException"/>); Clone() what you keep.
/// </summary>
public sealed unsafe class RecurrentOutput : IDisposable, IBufferOwner
{
    private static readonly ThreadLocal<StepJob> StepJobs = new(() => new StepJob());

    private readonly Recurrent layer;
    private readonly RecurrentCell cell;
    private readonly int steps, batch, hidden, gates, layers, dirs;
    private readonly int[] lengths;       // original batch order
    private readonly int[] perm;          // sorted position -> original batch index
    private readonly int[] sortedLengths; // by sorted position, non-increasing
    private readonly int[] active;        // (T): rows running at step t
    private readonly bool requiresGrad;
    private readonly List<float[]> rented = [];
    private readonly DirectionPass[] passes;
    private readonly float*[] layerInput;   // (L): X of each layer, (T*B, in)
    private readonly float*[] layerOutput;  // (L): Y of each layer, (T*B, D*H)
    private readonly float*[] dropoutMask;  // (L): mask applied to Y[l] to make X[l+1], or null
    private readonly double[]?[] gradientFlow;
    private float* h0s, c0s;                // (L*D, B, H) sorted, zeros when not given
    private bool hasH0, hasC0;
    private bool disposed;

    internal RecurrentOutput(Recurrent layer, int steps, int batch, int[] lengths, bool requiresGrad)
    {
        this.layer = layer;
        cell = layer.Cell;
        this.steps = steps;
        this.batch = batch;
        hidden = layer.HiddenSize;
        gates = cell.GateCount;
        layers = layer.NumLayers;
        dirs = layer.Directions;
        this.lengths = lengths;
        this.requiresGrad = requiresGrad;

        perm = new int[batch];
        for (int b = 0; b < batch; b++) perm[b] = b;
        // Stable sort by length, longest first, so the rows running at any step are a prefix.
        var keys = new int[batch];
        for (int b = 0; b < batch; b++) keys[b] = -lengths[b];
        Array.Sort(keys, perm);
        StableFix(perm, lengths);
        sortedLengths = new int[batch];
        for (int s = 0; s < batch; s++) sortedLengths[s] = lengths[perm[s]];
        active = new int[steps];
        for (int t = 0; t < steps; t++)
        {
            int m = 0;
            while (m < batch && sortedLengths[m] > t) m++;
            active[t] = m;
        }
        passes = new DirectionPass[layers * dirs];
        layerInput = new float*[layers];
        layerOutput = new float*[layers];
        dropoutMask = new float*[layers];
        gradientFlow = new double[]?[layers * dirs];
    }

    /// <summary>
    /// With <see cref="Recurrent.RecordGradientFlow"/>, after <see cref="Backward"/>: the 2-norm of dL/dh_t at every
    /// time step t (over the batch's running sequences and the hidden units) for layer <paramref name="layerIndex"/>
    /// and direction <paramref name="direction"/>. A curve that decays going back in time shows vanishing gradients;
    /// one that grows, exploding ones. Null without recording.
    /// </summary>
    public double[]? GradientFlow(int layerIndex = 0, int direction = 0) => gradientFlow[layerIndex * dirs + direction];

    /// <summary>Array.Sort is not stable; restore original order among equal lengths (determinism, readability).</summary>
    private static void StableFix(int[] perm, int[] lengths)
    {
        int i = 0;
        while (i < perm.Length)
        {
            int j = i;
            while (j + 1 < perm.Length && lengths[perm[j + 1]] == lengths[perm[i]]) j++;
            Array.Sort(perm, i, j - i + 1);
            i = j + 1;
        }
    }

    /// <summary>Outputs of the last layer: (T, B, D*H), or (B, T, D*H) when batch-first; zero past each length.</summary>
    public Tensor Output { get; private set; } = null!;

    /// <summary>Final hidden states h_n, (L*D, B, H), index layer*D + direction.</summary>
    public Tensor HiddenState { get; private set; } = null!;

    /// <summary>Final cell states c_n, (L*D, B, H), LSTM only.</summary>
    public Tensor? CellState { get; private set; }

    private float* Rent(long floats, bool clear)
    {
        float[] a = PinnedPool.Rent(Math.Max(1, floats));
        rented.Add(a);
        if (clear) a.AsSpan(0, (int)Math.Max(1, floats)).Clear();
        return PinnedPool.Address(a);
    }

    /// <summary>A result tensor in a pooled buffer owned by this object (valid until <see cref="Dispose"/>).</summary>
    private Tensor RentTensor(params int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        float[] a = PinnedPool.Rent(Math.Max(1, n));
        rented.Add(a);
        return Tensor.View(a, 0, shape, this);
    }

    bool IBufferOwner.IsReleased => disposed;

    internal void RunForward(Tensor input, Tensor? h0, Tensor? c0, bool dropoutActive, bool recurrentDropoutActive)
    {
        int T = steps, B = batch, H = hidden, G = gates, D = dirs, I = layer.InputSize;
        bool lstm = layer.Mode == RecurrentMode.Lstm, gru = layer.Mode == RecurrentMode.Gru;

        float* x0 = Rent((long)T * B * I, clear: false);
        GatherSequence(input.Span, layer.BatchFirst, I, x0);
        layerInput[0] = x0;

        hasH0 = h0 is not null;
        hasC0 = c0 is not null;
        h0s = Rent((long)layers * D * B * H, clear: !hasH0);
        if (hasH0) GatherStates(h0!.Span, h0s);
        if (lstm)
        {
            c0s = Rent((long)layers * D * B * H, clear: !hasC0);
            if (hasC0) GatherStates(c0!.Span, c0s);
        }
        float* ghStep = gru ? Rent((long)B * 3 * H, clear: false) : null;
        float* maskedPrev = recurrentDropoutActive ? Rent((long)B * H, clear: false) : null;

        for (int l = 0; l < layers; l++)
        {
            int inSize = l == 0 ? I : D * H;
            float* y = Rent((long)T * B * D * H, clear: true);
            layerOutput[l] = y;
            for (int d = 0; d < D; d++)
            {
                var p = new DirectionPass
                {
                    T = T, B = B, H = H, G = G, D = D, Reverse = d == 1, Active = active,
                    X = layerInput[l], InSize = inSize, Y = y + d * H,
                    Gates = Rent((long)T * B * G * H, clear: false),
                    C = lstm ? Rent((long)T * B * H, clear: false) : null,
                    TanhC = lstm && requiresGrad ? Rent((long)T * B * H, clear: false) : null,
                    Hn = gru && requiresGrad ? Rent((long)T * B * H, clear: false) : null,
                    GhStep = ghStep,
                    H0 = h0s + (long)(l * D + d) * B * H, HasH0 = hasH0,
                    C0 = lstm ? c0s + (long)(l * D + d) * B * H : null, HasC0 = hasC0,
                    RecurrentMask = recurrentDropoutActive ? RecurrentMask(B, H) : null,
                    MaskedPrev = maskedPrev,
                };
                passes[l * D + d] = p;
                ForwardDirection(p, l, d);
            }
            if (l + 1 < layers)
            {
                if (dropoutActive)
                {
                    long n = (long)T * B * D * H;
                    float* mask = Rent(n, clear: false);
                    float* next = Rent(n, clear: false);
                    float pDrop = layer.Dropout, scale = 1f / (1f - pDrop);
                    var rng = layer.DropoutRng;
                    for (long i = 0; i < n; i++)
                    {
                        mask[i] = rng.NextFloat() < pDrop ? 0f : scale;
                        next[i] = y[i] * mask[i];
                    }
                    dropoutMask[l] = mask;
                    layerInput[l + 1] = next;
                }
                else
                {
                    layerInput[l + 1] = y;
                }
            }
        }

        // Final states: at each sequence's last valid step (t = len-1 forward, t = 0 reverse), or the initial state.
        var hn = RentTensor(layers * D, B, H);
        var cn = lstm ? RentTensor(layers * D, B, H) : null;
        var hnSpan = hn.Span;
        for (int k = 0; k < layers * D; k++)
        {
            int l = k / D, d = k % D;
            var p = passes[k];
            for (int s = 0; s < B; s++)
            {
                int b = perm[s], len = sortedLengths[s];
                int last = d == 0 ? len - 1 : 0;
                float* hSrc = len == 0 ? p.H0 + (long)s * H : p.YAt(last) + (long)s * p.LdY;
                new ReadOnlySpan<float>(hSrc, H).CopyTo(hnSpan.Slice((k * B + b) * H, H));
                if (cn is not null)
                {
                    float* cSrc = len == 0 ? p.C0 + (long)s * H : p.StateAt(p.C, last) + (long)s * H;
                    new ReadOnlySpan<float>(cSrc, H).CopyTo(cn.Span.Slice((k * B + b) * H, H));
                }
            }
        }
        HiddenState = hn;
        CellState = cn;
        Output = layer.BatchFirst ? RentTensor(B, T, D * H) : RentTensor(T, B, D * H);
        ScatterSequence(layerOutput[layers - 1], D * H, layer.BatchFirst, Output.Span);
    }

    /// <summary>One variational-dropout mask row per sequence: 0 with probability p, else 1/(1-p).</summary>
    private float* RecurrentMask(int batch, int hidden)
    {
        float* m = Rent((long)batch * hidden, clear: false);
        float p = layer.RecurrentDropout, scale = 1f / (1f - p);
        var rng = layer.DropoutRng;
        for (long i = 0; i < (long)batch * hidden; i++) m[i] = rng.NextFloat() < p ? 0f : scale;
        return m;
    }

    private void ForwardDirection(DirectionPass p, int l, int d)
    {
        var wih = layer.WeightIh(l, d).Value.Span;
        var whh = layer.WeightHh(l, d).Value.Span;
        var bihP = layer.BiasIh(l, d);
        var bhhP = layer.BiasHh(l, d);
        int T = p.T, B = p.B, H = p.H, gh = p.G * H;
        var width = SimdDispatch.Current;
        p.Width = width;
        fixed (float* pWih = wih, pWhh = whh)
        fixed (float* pBih = bihP is null ? default : bihP.Value.Span, pBhh = bhhP is null ? default : bhhP.Value.Span)
        {
            p.Wih = pWih; p.Whh = pWhh; p.Bih = pBih; p.Bhh = pBhh;

            // All steps' input projection in one GEMM: Gates (T*B, G*H) = X (T*B, in) W_ih^T.
            Gemm.Multiply(width, Transpose.No, Transpose.Yes, T * B, gh, p.InSize, 1f, p.X, p.InSize, pWih, p.InSize, 0f, p.Gates, gh);
            if (pBih != null)
            {
                // Fold the biases into every row once: b_ih + b_hh (the GRU keeps b_hh for its kernel).
                Span<float> bias = gh <= 4096 ? stackalloc float[gh] : new float[gh];
                new ReadOnlySpan<float>(pBih, gh).CopyTo(bias);
                if (cell.FoldsRecurrentBias) TensorPrimitives.Add(bias, new ReadOnlySpan<float>(pBhh, gh), bias);
                for (long r = 0; r < (long)T * B; r++)
                {
                    var row = new Span<float>(p.Gates + r * gh, gh);
                    TensorPrimitives.Add(row, bias, row);
                }
            }

            int maxRows = p.Active.Length > 0 ? p.Active.Max() : 0;
            p.WhhT = maxRows > Gemm.SkinnyRows ? PackedPool.Rent(width, Transpose.Yes, H, gh, pWhh, H) : null;
            try
            {
                Span<PrevRange> ranges = stackalloc PrevRange[2];
                var step = StepJobs.Value!;
                for (int s = 0; s < T; s++)
                {
                    int t = p.Reverse ? T - 1 - s : s;
                    if (p.Active[t] == 0) continue;
                    int n = p.PrevRanges(t, ranges);
                    step.Run(cell, p, t, isBackward: false, ranges[..n]);
                }
            }
            finally
            {
                if (p.WhhT is not null) PackedPool.Return(p.WhhT);
                p.WhhT = null;
                p.Wih = p.Whh = p.Bih = p.Bhh = null;
            }
        }
    }

    /// <summary>
    /// Backpropagation through time. Adds dL/dW to every parameter's <see cref="Parameter.Grad"/> and returns
    /// the gradients of the input and the initial states. Any of the incoming gradients may be null (zero).
    /// </summary>
    /// <param name="dOutput">dL/d <see cref="Output"/>, same shape; values at padded steps are ignored.</param>
    /// <param name="dHiddenState">dL/d <see cref="HiddenState"/>, (L*D, B, H).</param>
    /// <param name="dCellState">dL/d <see cref="CellState"/>, (L*D, B, H), LSTM only.</param>
    public RecurrentGradients Backward(Tensor? dOutput, Tensor? dHiddenState = null, Tensor? dCellState = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (!requiresGrad)
            throw new InvalidOperationException("Backward needs the activations saved by Forward(requiresGrad: true); this output was computed with requiresGrad: false");
        int T = steps, B = batch, H = hidden, G = gates, D = dirs, I = layer.InputSize;
        bool lstm = layer.Mode == RecurrentMode.Lstm, gru = layer.Mode == RecurrentMode.Gru;
        if (dOutput is not null && !dOutput.SameShape(Output.Shape))
            throw new ArgumentException($"dOutput must have the output's shape {Tensor.ShapeString(Output.Shape)}, got {Tensor.ShapeString(dOutput.Shape)}", nameof(dOutput));
        if (dHiddenState is not null && !dHiddenState.SameShape(HiddenState.Shape))
            throw new ArgumentException($"dHiddenState must have shape {Tensor.ShapeString(HiddenState.Shape)}, got {Tensor.ShapeString(dHiddenState.Shape)}", nameof(dHiddenState));
        if (dCellState is not null && (CellState is null || !dCellState.SameShape(CellState.Shape)))
            throw new ArgumentException(CellState is null
                ? $"dCellState is only used by LSTM, but this layer is {layer.Mode}"
                : $"dCellState must have shape {Tensor.ShapeString(CellState.Shape)}, got {Tensor.ShapeString(dCellState.Shape)}", nameof(dCellState));
        foreach (var (t, name) in new[] { (dOutput, nameof(dOutput)), (dHiddenState, nameof(dHiddenState)), (dCellState, nameof(dCellState)) })
            if (t is not null && !TensorPrimitives.IsFiniteAll<float>(t.Span))
                throw new ArgumentException($"{name} contains NaN or infinity", name);

        var scratch = new List<float[]>();
        float* Temp(long floats, bool clear)
        {
            float[] a = PinnedPool.Rent(Math.Max(1, floats));
            scratch.Add(a);
            if (clear) a.AsSpan(0, (int)Math.Max(1, floats)).Clear();
            return PinnedPool.Address(a);
        }

        try
        {
            float* dY = Temp((long)T * B * D * H, clear: dOutput is null);
            if (dOutput is not null) GatherSequence(dOutput.Span, layer.BatchFirst, D * H, dY);
            float* dh0 = Temp((long)layers * D * B * H, clear: dHiddenState is null);
            if (dHiddenState is not null) GatherStates(dHiddenState.Span, dh0);
            float* dc0 = null;
            if (lstm)
            {
                dc0 = Temp((long)layers * D * B * H, clear: dCellState is null);
                if (dCellState is not null) GatherStates(dCellState.Span, dc0);
            }
            float* ones = Temp((long)T * B, clear: false);
            new Span<float>(ones, T * B).Fill(1f);
            float* dGates = Temp((long)T * B * G * H, clear: false);
            float* dGatesH = gru ? Temp((long)T * B * G * H, clear: false) : dGates;
            float* rowScratch = Temp((long)B * G * H, clear: false);
            float* maskedStates = passes.Any(q => q.RecurrentMask != null) ? Temp((long)(T + 1) * B * H, clear: false) : null;

            float* dX = null;
            for (int l = layers - 1; l >= 0; l--)
            {
                int inSize = l == 0 ? I : D * H;
                dX = Temp((long)T * B * inSize, clear: false);
                for (int d = 0; d < D; d++)
                {
                    var p = passes[l * D + d];
                    p.DY = dY + d * H;
                    p.DGates = dGates;
                    p.DGatesH = dGatesH;
                    p.DH = dh0 + (long)(l * D + d) * B * H;
                    p.DC = lstm ? dc0 + (long)(l * D + d) * B * H : null;
                    BackwardDirection(p, l, d, dX, accumulate: d > 0, ones, rowScratch, maskedStates);
                }
                if (l > 0)
                {
                    // dX of layer l is the gradient of layer l-1's output (through the dropout mask if any).
                    float* mask = dropoutMask[l - 1];
                    if (mask != null)
                        TensorPrimitives.Multiply(new ReadOnlySpan<float>(dX, T * B * D * H), new ReadOnlySpan<float>(mask, T * B * D * H), new Span<float>(dX, T * B * D * H));
                    dY = dX;
                }
            }

            var dInput = layer.BatchFirst ? RentTensor(B, T, I) : RentTensor(T, B, I);
            ScatterSequence(dX, I, layer.BatchFirst, dInput.Span);
            var dH0 = RentTensor(layers * D, B, H);
            ScatterStates(dh0, dH0.Span);
            Tensor? dC0 = null;
            if (lstm)
            {
                dC0 = RentTensor(layers * D, B, H);
                ScatterStates(dc0, dC0.Span);
            }
            return new RecurrentGradients(dInput, dH0, dC0);
        }
        finally
        {
            foreach (var a in scratch) PinnedPool.Return(a);
            foreach (var p in passes)
            {
                p.DY = p.DGates = p.DGatesH = p.DH = p.DC = null;
            }
        }
    }

    private void BackwardDirection(DirectionPass p, int l, int d, float* dX, bool accumulate, float* ones, float* rowScratch, float* maskedStates)
    {
        double[]? flow = null;
        if (layer.RecordGradientFlow)
        {
            flow = new double[p.T];
            gradientFlow[l * dirs + d] = flow;
            if (l == 0 && d == 0) layer.LastGradientFlow = flow;
        }
        int T = p.T, B = p.B, H = p.H, gh = p.G * H, inSize = p.InSize;
        long rows = (long)T * B;
        new Span<float>(p.DGates, (int)(rows * gh)).Clear();
        if (p.DGatesH != p.DGates) new Span<float>(p.DGatesH, (int)(rows * gh)).Clear();

        var wihP = layer.WeightIh(l, d);
        var whhP = layer.WeightHh(l, d);
        var bihP = layer.BiasIh(l, d);
        var bhhP = layer.BiasHh(l, d);
        var width = SimdDispatch.Current;
        p.Width = width;
        fixed (float* pWih = wihP.Value.Span, pWhh = whhP.Value.Span, gWih = wihP.Grad.Span, gWhh = whhP.Grad.Span)
        fixed (float* pBhh = bhhP is null ? default : bhhP.Value.Span)
        fixed (float* gBih = bihP is null ? default : bihP.Grad.Span, gBhh = bhhP is null ? default : bhhP.Grad.Span)
        {
            p.Wih = pWih; p.Whh = pWhh; p.Bhh = pBhh;
            int maxRows = p.Active.Max();
            p.WhhN = maxRows > Gemm.SkinnyRows ? PackedPool.Rent(width, Transpose.No, gh, H, pWhh, H) : null;
            try
            {
                Span<PrevRange> ranges = stackalloc PrevRange[2];
                var step = StepJobs.Value!;
                for (int s = 0; s < T; s++)
                {
                    int t = p.Reverse ? s : T - 1 - s;
                    int m = p.Active[t];
                    if (m == 0) continue;
                    if (flow is not null)
                    {
                        // ||dL/dh_t||: what flowed back from t+1 plus the output's own gradient, over the running rows.
                        double sum = 0;
                        for (int r = 0; r < m; r++)
                            for (int j = 0; j < H; j++)
                            {
                                double g = p.DH[(long)r * H + j] + p.DYAt(t)[(long)r * p.LdY + j];
                                sum += g * g;
                            }
                        flow[t] = Math.Sqrt(sum);
                    }
                    int n = p.PrevRanges(t, ranges);
                    step.Run(cell, p, t, isBackward: true, ranges[..n]);
                }
            }
            finally
            {
                if (p.WhhN is not null) PackedPool.Return(p.WhhN);
                p.WhhN = null;
            }

            // dW_ih += dG^T X and dX (+)= dG W_ih: one GEMM each over all steps.
            Gemm.Multiply(width, Transpose.Yes, Transpose.No, gh, inSize, (int)rows, 1f, p.DGates, gh, p.X, inSize, 1f, gWih, inSize);
            Gemm.Multiply(width, Transpose.No, Transpose.No, (int)rows, inSize, gh, 1f, p.DGates, gh, pWih, inSize, accumulate ? 1f : 0f, dX, inSize);

            // dW_hh += sum_t dGh[t]^T h_prev(t). Steps pair with their neighbour's output (t-1 forward, t+1 reverse);
            // a row's first step pairs with h0 instead (the neighbour's output row is zero there).
            // With recurrent dropout the product saw h_prev * M, so its weight gradient pairs dGh with that.
            float* prevStates = p.Y;
            int ldPrev = p.LdY;
            float* h0 = p.H0;
            if (p.RecurrentMask != null)
            {
                prevStates = maskedStates;
                ldPrev = H;
                for (int t = 0; t < T; t++)
                    for (int r = 0; r < B; r++)
                        TensorPrimitives.Multiply(new ReadOnlySpan<float>(p.YAt(t) + (long)r * p.LdY, H),
                            new ReadOnlySpan<float>(p.RecurrentMask + (long)r * H, H), new Span<float>(maskedStates + ((long)t * B + r) * H, H));
                h0 = maskedStates + (long)T * B * H;
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(p.H0, B * H), new ReadOnlySpan<float>(p.RecurrentMask, B * H), new Span<float>(h0, B * H));
            }
            if (T > 1)
            {
                float* a = p.Reverse ? p.DGatesH : p.DGatesH + (long)B * gh;
                float* y = p.Reverse ? prevStates + (long)B * ldPrev : prevStates;
                Gemm.Multiply(width, Transpose.Yes, Transpose.No, gh, H, (T - 1) * B, 1f, a, gh, y, ldPrev, 1f, gWhh, H);
            }
            if (p.HasH0)
            {
                float* a;
                if (!p.Reverse) a = p.DGatesH;
                else
                {
                    for (int s = 0; s < B; s++)
                    {
                        int len = sortedLengths[s];
                        var dst = new Span<float>(rowScratch + (long)s * gh, gh);
                        if (len == 0) dst.Clear();
                        else new ReadOnlySpan<float>(p.DGatesHAt(len - 1) + (long)s * gh, gh).CopyTo(dst);
                    }
                    a = rowScratch;
                }
                Gemm.Multiply(width, Transpose.Yes, Transpose.No, gh, H, B, 1f, a, gh, h0, H, 1f, gWhh, H);
            }

            // Bias gradients: column sums over all steps, as ones (1, T*B) x dG.
            if (gBih != null)
            {
                Gemm.Multiply(width, Transpose.No, Transpose.No, 1, gh, (int)rows, 1f, ones, (int)rows, p.DGates, gh, 1f, gBih, gh);
                Gemm.Multiply(width, Transpose.No, Transpose.No, 1, gh, (int)rows, 1f, ones, (int)rows, p.DGatesH, gh, 1f, gBhh, gh);
            }
            p.Wih = p.Whh = p.Bhh = null;
        }
    }

    /// <summary>(T, B, F) or (B, T, F) in original order into time-major sorted rows, zero past each length.</summary>
    private void GatherSequence(ReadOnlySpan<float> src, bool batchFirst, int features, float* dst)
    {
        int T = steps, B = batch;
        for (int t = 0; t < T; t++)
            for (int s = 0; s < B; s++)
            {
                var d = new Span<float>(dst + ((long)t * B + s) * features, features);
                int b = perm[s];
                if (t >= sortedLengths[s]) { d.Clear(); continue; }
                int row = batchFirst ? b * T + t : t * B + b;
                src.Slice(row * features, features).CopyTo(d);
            }
    }

    /// <summary>Inverse of <see cref="GatherSequence"/> (rows past each length are zero in the source).</summary>
    private void ScatterSequence(float* src, int features, bool batchFirst, Span<float> dst)
    {
        int T = steps, B = batch;
        for (int t = 0; t < T; t++)
            for (int s = 0; s < B; s++)
            {
                int b = perm[s];
                int row = batchFirst ? b * T + t : t * B + b;
                new ReadOnlySpan<float>(src + ((long)t * B + s) * features, features).CopyTo(dst.Slice(row * features, features));
            }
    }

    /// <summary>(L*D, B, H) in original batch order into sorted order.</summary>
    private void GatherStates(ReadOnlySpan<float> src, float* dst)
    {
        int B = batch, H = hidden;
        for (int k = 0; k < layers * dirs; k++)
            for (int s = 0; s < B; s++)
                src.Slice((k * B + perm[s]) * H, H).CopyTo(new Span<float>(dst + ((long)k * B + s) * H, H));
    }

    private void ScatterStates(float* src, Span<float> dst)
    {
        int B = batch, H = hidden;
        for (int k = 0; k < layers * dirs; k++)
            for (int s = 0; s < B; s++)
                new ReadOnlySpan<float>(src + ((long)k * B + s) * H, H).CopyTo(dst.Slice((k * B + perm[s]) * H, H));
    }

    /// <summary>The dropout mask applied to layer <paramref name="layerIndex"/>'s output (time-major, batch sorted by length), or null.</summary>
    internal float[]? DropoutMaskSorted(int layerIndex)
    {
        float* m = dropoutMask[layerIndex];
        return m == null ? null : new ReadOnlySpan<float>(m, steps * batch * dirs * hidden).ToArray();
    }

    /// <summary>The recurrent-dropout mask of a layer and direction, (B, H) in original batch order, or null.</summary>
    internal float[]? RecurrentMaskOriginal(int layerIndex, int direction)
    {
        float* m = passes[layerIndex * dirs + direction].RecurrentMask;
        if (m == null) return null;
        var result = new float[batch * hidden];
        for (int s = 0; s < batch; s++) new ReadOnlySpan<float>(m + (long)s * hidden, hidden).CopyTo(result.AsSpan(perm[s] * hidden, hidden));
        return result;
    }

    /// <summary>Returns every buffer to the pool; the tensors this object handed out become unreadable.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var a in rented) PinnedPool.Return(a);
        rented.Clear();
    }
}
