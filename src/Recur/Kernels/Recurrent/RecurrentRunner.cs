namespace Recur.Kernels.Recurrent;

/// <summary>
/// The forward and backward (BPTT) driver of a recurrent layer stack: it owns the pooled, pinned buffers of one pass
/// (the sorted inputs, every layer's outputs, the saved activations, the dropout masks) and runs every layer and
/// direction over them with the cell's kernels. The layer above gives it plain data: sizes, the cell, the sorted
/// batch, spans of the parameters (<see cref="IRecurrentWeights"/>), a source of dropout masks, and the spans to fill.
/// Shapes use B batch, T time, I input, H hidden, G gates, L layers, D directions, R the width of h (an LSTM
/// projection's P, else H); rows are sorted by length.
/// </summary>
internal sealed unsafe class RecurrentRunner : IDisposable
{
    private static readonly ThreadLocal<StepJob> StepJobs = new(() => new StepJob());

    private readonly RecurrentCell cell;
    private readonly SortedBatch batch;
    private readonly RecurrentEngineOptions options;
    private readonly int steps, batchSize, inputSize, hidden, gates, layers, dirs, proj, state;
    private readonly bool batchFirst, requiresGrad, inputRequiresGrad;
    private readonly List<float[]> rented = [];
    private readonly DirectionPass[] passes;
    private readonly RecurrentStepSchedule[] backwardSchedules; // (L*D): how Backward ran each pass's time loop
    private readonly float*[] layerInput;   // (L): X of each layer, (T*B, in)
    private readonly float*[] layerOutput;  // (L): Y of each layer, (T*B, D*R)
    private readonly float*[] dropoutMask;  // (L): mask applied to Y[l] to make X[l+1], or null
    private float* h0s, c0s;                // (L*D, B, R) and (L*D, B, H) sorted, zeros when not given
    private bool backwardDone;              // Backward overwrote the saved gates (dGates in place)

    /// <summary>A runner for one pass; <paramref name="projSize"/> is the LSTM projection's P (h = W_hr (o * tanh c)), 0 for none.</summary>
    public RecurrentRunner(RecurrentCell cell, SortedBatch batch, int inputSize, int hidden, int layers, int directions,
        bool batchFirst, bool requiresGrad, RecurrentEngineOptions options, bool inputRequiresGrad = true, int projSize = 0)
    {
        if (projSize > 0 && cell.Kind != CellKind.Lstm) throw new ArgumentException("only the LSTM cell has a projection", nameof(projSize));
        proj = projSize;
        state = projSize > 0 ? projSize : hidden;
        this.inputRequiresGrad = inputRequiresGrad;
        this.cell = cell;
        this.batch = batch;
        this.options = options;
        steps = batch.Steps;
        batchSize = batch.Batch;
        this.inputSize = inputSize;
        this.hidden = hidden;
        gates = cell.GateCount;
        this.layers = layers;
        dirs = directions;
        this.batchFirst = batchFirst;
        this.requiresGrad = requiresGrad;
        passes = new DirectionPass[layers * dirs];
        layerInput = new float*[layers];
        layerOutput = new float*[layers];
        dropoutMask = new float*[layers];
        backwardSchedules = new RecurrentStepSchedule[layers * dirs];
    }

    /// <summary>Whether <see cref="Backward"/> may run (the activations it reads were kept).</summary>
    public bool RequiresGrad => requiresGrad;

    /// <summary>Whether <see cref="Backward"/> has run: it overwrote the saved activations, so it cannot run again.</summary>
    public bool BackwardDone => backwardDone;

    /// <summary>
    /// Whether <see cref="Backward"/> computes the gradient of the input (the first layer's dX = dGates W_ih, about a
    /// ninth of a training step's multiply-adds for a one-layer LSTM). False when the input is data, not a result.
    /// </summary>
    public bool InputRequiresGrad => inputRequiresGrad;

    private float* Rent(long floats, bool clear) => RentInto(rented, floats, clear);

    /// <summary>A 64-byte-aligned pooled buffer of at least <paramref name="floats"/> floats, recorded in <paramref name="owner"/> for its return.</summary>
    private static float* RentInto(List<float[]> owner, long floats, bool clear)
    {
        float[] a = PinnedPool.RentAligned(Math.Max(1, floats), out int offset);
        owner.Add(a);
        if (clear) a.AsSpan(offset, (int)Math.Max(1, floats)).Clear();
        return PinnedPool.Address(a) + offset;
    }

    /// <summary>
    /// Runs every layer and direction. <paramref name="h0"/> and <paramref name="c0"/> are (L*D, B, H) in original
    /// order, empty when not given (zeros). Dropout between layers (probability <paramref name="dropout"/>) and on
    /// the recurrent input (<paramref name="recurrentDropout"/>) draw their masks from <paramref name="masks"/>; a
    /// probability of 0 means none. Writes <paramref name="output"/> ((T, B, D*R) or (B, T, D*R)), and the final
    /// states <paramref name="hn"/> ((L*D, B, R)) and, LSTM only, <paramref name="cn"/> ((L*D, B, H)), in original order.
    /// <paramref name="h0"/> is (L*D, B, R).
    /// </summary>
    public void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> h0, ReadOnlySpan<float> c0, IRecurrentWeights weights,
        IDropoutMasks? masks, float dropout, float recurrentDropout, Span<float> output, Span<float> hn, Span<float> cn)
    {
        int T = steps, B = batchSize, H = hidden, G = gates, D = dirs, I = inputSize, R = state;
        bool lstm = cell.Kind == CellKind.Lstm, gru = cell.Kind == CellKind.Gru, projected = proj > 0;
        bool dropoutActive = dropout > 0f, recurrentDropoutActive = recurrentDropout > 0f;
        int[] active = batch.Active;

        float* x0 = Rent((long)T * B * I, clear: false);
        batch.GatherSequence(input, batchFirst, I, new Span<float>(x0, T * B * I));
        layerInput[0] = x0;

        bool hasH0 = !h0.IsEmpty, hasC0 = !c0.IsEmpty;
        int states = layers * D * B * H, hStates = layers * D * B * R;
        h0s = Rent(hStates, clear: !hasH0);
        if (hasH0) batch.GatherStates(h0, layers * D, R, new Span<float>(h0s, hStates));
        if (lstm)
        {
            c0s = Rent(states, clear: !hasC0);
            if (hasC0) batch.GatherStates(c0, layers * D, H, new Span<float>(c0s, states));
        }
        float* ghStep = gru ? Rent((long)B * 3 * H, clear: false) : null;
        float* maskedPrev = recurrentDropoutActive ? Rent((long)B * H, clear: false) : null;

        for (int l = 0; l < layers; l++)
        {
            int inSize = l == 0 ? I : D * R;
            float* y = Rent((long)T * B * D * R, clear: true);
            layerOutput[l] = y;
            for (int d = 0; d < D; d++)
            {
                var p = new DirectionPass
                {
                    T = T, B = B, H = H, G = G, D = D, R = R, Reverse = d == 1, Active = active,
                    X = layerInput[l], InSize = inSize, Y = y + d * R,
                    Gates = Rent((long)T * B * G * H, clear: false),
                    C = lstm ? Rent((long)T * B * H, clear: false) : null,
                    // Cleared: backward's dW_hr product reads every row, running or not (with zero dh past the end).
                    M = projected ? Rent((long)T * B * H, clear: true) : null,
                    TanhC = lstm && requiresGrad ? Rent((long)T * B * H, clear: false) : null,
                    Hn = gru && requiresGrad ? Rent((long)T * B * H, clear: false) : null,
                    GhStep = ghStep,
                    H0 = h0s + (long)(l * D + d) * B * R, HasH0 = hasH0,
                    C0 = lstm ? c0s + (long)(l * D + d) * B * H : null, HasC0 = hasC0,
                    RecurrentMask = recurrentDropoutActive ? Mask(masks!, (long)B * R, recurrentDropout) : null,
                    MaskedPrev = maskedPrev,
                };
                passes[l * D + d] = p;
                ForwardDirection(p, weights, l * D + d);
            }
            if (l + 1 < layers)
            {
                if (dropoutActive)
                {
                    long n = (long)T * B * D * R;
                    float* mask = Mask(masks!, n, dropout);
                    float* next = Rent(n, clear: false);
                    for (long i = 0; i < n; i++) next[i] = y[i] * mask[i];
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
        int[] perm = batch.Perm, sortedLengths = batch.SortedLengths;
        for (int k = 0; k < layers * D; k++)
        {
            int d = k % D;
            var p = passes[k];
            for (int s = 0; s < B; s++)
            {
                int b = perm[s], len = sortedLengths[s];
                int last = d == 0 ? len - 1 : 0;
                float* hSrc = len == 0 ? p.H0 + (long)s * R : p.YAt(last) + (long)s * p.LdY;
                new ReadOnlySpan<float>(hSrc, R).CopyTo(hn.Slice((k * B + b) * R, R));
                if (lstm)
                {
                    float* cSrc = len == 0 ? p.C0 + (long)s * H : p.StateAt(p.C, last) + (long)s * H;
                    new ReadOnlySpan<float>(cSrc, H).CopyTo(cn.Slice((k * B + b) * H, H));
                }
            }
        }
        batch.ScatterSequence(new ReadOnlySpan<float>(layerOutput[layers - 1], T * B * D * R), D * R, batchFirst, output);
    }

    /// <summary>A dropout mask of <paramref name="n"/> values (0 with probability p, else 1/(1-p)) from the layer's source.</summary>
    private float* Mask(IDropoutMasks masks, long n, float p)
    {
        float* m = Rent(n, clear: false);
        masks.Fill(new Span<float>(m, checked((int)n)), p);
        return m;
    }

    private void ForwardDirection(DirectionPass p, IRecurrentWeights weights, int k)
    {
        var wih = weights.Value(k, RecurrentWeight.InputHidden);
        var whh = weights.Value(k, RecurrentWeight.HiddenHidden);
        var bih = weights.Value(k, RecurrentWeight.InputBias);
        var bhh = weights.Value(k, RecurrentWeight.HiddenBias);
        var whr = p.M != null ? weights.Value(k, RecurrentWeight.Projection) : default;
        int T = p.T, B = p.B, H = p.H, R = p.R, gh = p.G * H;
        var width = SimdDispatch.Current;
        p.Width = width;
        fixed (float* pWih = wih, pWhh = whh)
        fixed (float* pBih = bih, pBhh = bhh, pWhr = whr)
        {
            p.Wih = pWih; p.Whh = pWhh; p.Bih = pBih; p.Bhh = pBhh; p.Whr = pWhr;

            // All steps' input projection in one GEMM: Gates (T*B, G*H) = X (T*B, in) W_ih^T, with W_ih^T packed once
            // per weight version (the same path choice as Gemm.Multiply, so the same sums).
            if (Gemm.TakesPacked(T * B))
            {
                var wihT = weights.Packed.Get(k, PackedForm.InputHiddenT, weights.Version(k, RecurrentWeight.InputHidden), width,
                    Transpose.Yes, p.InSize, gh, pWih, p.InSize);
                Gemm.MultiplyPacked(Transpose.No, T * B, 1f, p.X, p.InSize, wihT, 0f, p.Gates, gh);
            }
            else Gemm.Multiply(width, Transpose.No, Transpose.Yes, T * B, gh, p.InSize, 1f, p.X, p.InSize, pWih, p.InSize, 0f, p.Gates, gh);
            // The biases are added by the forward cell kernel as it reads each step's gates (one add per element,
            // no separate pass over the (T*B, G*H) buffer): b_ih + b_hh summed once here (the GRU's kernel takes b_ih
            // alone and adds b_hh itself, since r multiplies W_hn h + b_hn).
            p.GateBias = null;
            if (pBih != null)
            {
                float* bias = Rent(gh, clear: false);
                var biasSpan = new Span<float>(bias, gh);
                new ReadOnlySpan<float>(pBih, gh).CopyTo(biasSpan);
                if (cell.FoldsRecurrentBias) TensorPrimitives.Add(biasSpan, new ReadOnlySpan<float>(pBhh, gh), biasSpan);
                p.GateBias = bias;
            }

            int maxRows = p.Active.Length > 0 ? p.Active.Max() : 0;
            var schedule = ChooseSchedule(p, maxRows);
            p.Schedule = schedule;
            p.WhhT = Gemm.TakesPacked(maxRows) && schedule != RecurrentStepSchedule.HiddenBlocks
                ? weights.Packed.Get(k, PackedForm.HiddenHiddenT, weights.Version(k, RecurrentWeight.HiddenHidden), width, Transpose.Yes, R, gh, pWhh, R)
                : null;
            var whhI = Gemm.TakesPacked(maxRows) && schedule == RecurrentStepSchedule.HiddenBlocks
                ? weights.Packed.GetInterleaved(k, weights.Version(k, RecurrentWeight.HiddenHidden), width, p.G, H, R, pWhh)
                : null;
            p.WhrT = pWhr != null && Gemm.TakesPacked(maxRows)
                ? weights.Packed.Get(k, PackedForm.ProjectionT, weights.Version(k, RecurrentWeight.Projection), width, Transpose.Yes, H, R, pWhr, H)
                : null;
            try
            {
                Span<PrevRange> ranges = stackalloc PrevRange[2];
                var step = StepJobs.Value!;
                if (schedule == RecurrentStepSchedule.BatchParallel)
                    BatchParallelPass.Forward(cell, p, batch.SortedLengths, Parallelism.ThreadCount);
                else
                    for (int s = 0; s < T; s++)
                    {
                        int t = p.Reverse ? T - 1 - s : s;
                        if (p.Active[t] == 0) continue;
                        int n = p.PrevRanges(t, ranges);
                        if (schedule == RecurrentStepSchedule.HiddenBlocks)
                            InterleavedStep.ForThread.Run(cell, p, t, ranges[..n], whhI, keepActivations: requiresGrad);
                        else step.Run(cell, p, t, isBackward: false, ranges[..n], options.FusedMax);
                    }
            }
            finally
            {
                p.WhhT = p.WhrT = null;
                p.Wih = p.Whh = p.Bih = p.Bhh = p.Whr = p.GateBias = null;
            }
        }
    }

    /// <summary>
    /// The forward schedule of a pass (<see cref="RecurrentEngineOptions.Schedule"/>); Auto as measured
    /// (docs/benchmarks.md, "Forward schedules"): hidden-unit blocks for 5 to 8 rows (the packed product, whose W_hh
    /// each thread then reads only its share of), row blocks owned for all steps when every thread gets at least 8
    /// rows, else the per-step engine (which a skinny step of at most 4 rows already runs in one dispatch). One thread
    /// always runs per step.
    /// </summary>
    private RecurrentStepSchedule ChooseSchedule(DirectionPass p, int maxRows)
    {
        if (options.Schedule != RecurrentStepSchedule.Auto) return options.Schedule;
        int threads = Parallelism.ThreadCount;
        // Measured on the quiet machine (docs/benchmarks.md, "Forward schedules"): hidden-unit blocks were slower than
        // per-step on every row (1.02-1.41x), so Auto never takes them; batch-parallel was faster from 4 rows per thread.
        if (threads == 1 || maxRows <= Gemm.SkinnyLimit) return RecurrentStepSchedule.PerStep;
        if (maxRows >= RecurrentEngineOptions.BatchParallelMinRows * threads) return RecurrentStepSchedule.BatchParallel;
        return RecurrentStepSchedule.PerStep;
    }

    /// <summary>
    /// Backpropagation through time: adds dL/dW to every gradient <paramref name="weights"/> gives and writes the
    /// gradients of the input (<paramref name="dInput"/>, the input's layout) and of the initial states
    /// (<paramref name="dH0"/> (L*D, B, R), <paramref name="dC0"/> (L*D, B, H), original order). The incoming gradients are in the
    /// layout of the outputs; an empty span means zero. With <paramref name="flow"/> (one array of T per layer and
    /// direction, zero-filled), records ||dL/dh_t|| over the running rows at every step.
    /// </summary>
    /// <remarks>
    /// Each pass's time loop follows its forward schedule: batch-parallel (each thread owns its row block for all steps,
    /// <see cref="BatchParallelPass"/>) where the forward ran batch-parallel, per step otherwise (also after hidden-unit
    /// blocks). With <paramref name="flow"/> it runs per step: the norm sums over all running rows at each step, which a
    /// row block cannot give in the per-step order. Either way the results are bitwise the same.
    /// </remarks>
    public void Backward(ReadOnlySpan<float> dOutput, ReadOnlySpan<float> dHn, ReadOnlySpan<float> dCn, IRecurrentWeights weights,
        double[][]? flow, Span<float> dInput, Span<float> dH0, Span<float> dC0)
    {
        if (!requiresGrad) throw new InvalidOperationException("the activations backward needs were not kept");
        if (backwardDone)
            throw new InvalidOperationException("Backward may run once per Forward: it overwrites the saved gate activations with their gradients; run Forward again");
        backwardDone = true;
        int T = steps, B = batchSize, H = hidden, G = gates, D = dirs, I = inputSize, R = state;
        bool lstm = cell.Kind == CellKind.Lstm, gru = cell.Kind == CellKind.Gru, projected = proj > 0;

        var scratch = new List<float[]>();
        float* Temp(long floats, bool clear) => RentInto(scratch, floats, clear);

        try
        {
            int states = layers * D * B * H, hStates = layers * D * B * R;
            float* dY = Temp((long)T * B * D * R, clear: dOutput.IsEmpty);
            if (!dOutput.IsEmpty) batch.GatherSequence(dOutput, batchFirst, D * R, new Span<float>(dY, T * B * D * R));
            float* dh0 = Temp(hStates, clear: dHn.IsEmpty);
            if (!dHn.IsEmpty) batch.GatherStates(dHn, layers * D, R, new Span<float>(dh0, hStates));
            float* dc0 = null;
            if (lstm)
            {
                dc0 = Temp(states, clear: dCn.IsEmpty);
                if (!dCn.IsEmpty) batch.GatherStates(dCn, layers * D, H, new Span<float>(dc0, states));
            }
            float* ones = Temp((long)T * B, clear: false);
            new Span<float>(ones, T * B).Fill(1f);
            // dGates is written in place over each pass's own Gates buffer: the backward kernel of step t reads the
            // saved activations of step t (or, for the RNN, none) and overwrites them with their gradients, and nothing
            // reads them again. That saves a (T*B, G*H) buffer; the price is that Backward runs once per Forward.
            // The GRU's recurrent-side gradient dGh differs from dGx in its n third, so it keeps its own buffer.
            float* dGatesH = gru ? Temp((long)T * B * G * H, clear: false) : null;
            float* rowScratch = Temp((long)B * G * H, clear: false);
            float* biasSum = Temp((long)G * H, clear: false);
            float* maskedStates = passes.Any(q => q.RecurrentMask != null) ? Temp((long)(T + 1) * B * R, clear: false) : null;
            float* dhAll = projected ? Temp((long)T * B * R, clear: false) : null;
            float* dm = projected ? Temp((long)B * H, clear: false) : null;

            float* dX = null;
            for (int l = layers - 1; l >= 0; l--)
            {
                int inSize = l == 0 ? I : D * R;
                // The first layer's dX only when the input needs a gradient (it is data otherwise).
                dX = l > 0 || inputRequiresGrad ? Temp((long)T * B * inSize, clear: false) : null;
                for (int d = 0; d < D; d++)
                {
                    var p = passes[l * D + d];
                    p.DY = dY + d * R;
                    p.DGates = p.Gates;
                    p.DGatesH = gru ? dGatesH : p.Gates;
                    p.DHAll = dhAll;
                    p.DM = dm;
                    p.DH = dh0 + (long)(l * D + d) * B * R;
                    p.DC = lstm ? dc0 + (long)(l * D + d) * B * H : null;
                    BackwardDirection(p, weights, l * D + d, dX, accumulate: d > 0, ones, rowScratch, biasSum, maskedStates, flow?[l * D + d]);
                }
                // Layer l's weight gradients are final: data-parallel training may start reducing them while the layers
                // below run their backward pass.
                for (int d = 0; d < D; d++) weights.GradientsDone(l * D + d);
                if (l > 0)
                {
                    // dX of layer l is the gradient of layer l-1's output (through the dropout mask if any).
                    float* mask = dropoutMask[l - 1];
                    if (mask != null)
                        TensorPrimitives.Multiply(new ReadOnlySpan<float>(dX, T * B * D * R), new ReadOnlySpan<float>(mask, T * B * D * R), new Span<float>(dX, T * B * D * R));
                    dY = dX;
                }
            }

            if (dX != null) batch.ScatterSequence(new ReadOnlySpan<float>(dX, T * B * I), I, batchFirst, dInput);
            batch.ScatterStates(new ReadOnlySpan<float>(dh0, hStates), layers * D, R, dH0);
            if (lstm) batch.ScatterStates(new ReadOnlySpan<float>(dc0, states), layers * D, H, dC0);
        }
        finally
        {
            foreach (var a in scratch) PinnedPool.Return(a);
            foreach (var p in passes)
            {
                p.DY = p.DGates = p.DGatesH = p.DH = p.DC = p.DHAll = p.DM = null;
            }
        }
    }

    private void BackwardDirection(DirectionPass p, IRecurrentWeights weights, int k, float* dX, bool accumulate, float* ones,
        float* rowScratch, float* biasSum, float* maskedStates, double[]? flow)
    {
        int T = p.T, B = p.B, H = p.H, R = p.R, gh = p.G * H, inSize = p.InSize;
        long rows = (long)T * B;
        // The cell kernels write every running row of dGates[t]; only the rows past each step's running prefix must
        // be zero for the weight-gradient GEMMs over all steps.
        for (int t = 0; t < T; t++)
        {
            int m = p.Active[t];
            if (m == B) continue;
            new Span<float>(p.DGatesAt(t) + (long)m * gh, (B - m) * gh).Clear();
            if (p.DGatesH != p.DGates) new Span<float>(p.DGatesHAt(t) + (long)m * gh, (B - m) * gh).Clear();
            if (p.DHAll != null) new Span<float>(p.DHAllAt(t) + (long)m * R, (B - m) * R).Clear();
        }

        var width = SimdDispatch.Current;
        p.Width = width;
        fixed (float* pWih = weights.Value(k, RecurrentWeight.InputHidden), pWhh = weights.Value(k, RecurrentWeight.HiddenHidden))
        fixed (float* gWih = weights.Gradient(k, RecurrentWeight.InputHidden), gWhh = weights.Gradient(k, RecurrentWeight.HiddenHidden))
        fixed (float* pBhh = weights.Value(k, RecurrentWeight.HiddenBias))
        fixed (float* gBih = weights.Gradient(k, RecurrentWeight.InputBias), gBhh = weights.Gradient(k, RecurrentWeight.HiddenBias))
        fixed (float* pWhr = p.M != null ? weights.Value(k, RecurrentWeight.Projection) : default,
            gWhr = p.M != null ? weights.Gradient(k, RecurrentWeight.Projection) : default)
        {
            p.Wih = pWih; p.Whh = pWhh; p.Bhh = pBhh; p.Whr = pWhr;
            int maxRows = p.Active.Max();
            p.WhhN = Gemm.TakesPacked(maxRows)
                ? weights.Packed.Get(k, PackedForm.HiddenHidden, weights.Version(k, RecurrentWeight.HiddenHidden), width, Transpose.No, gh, R, pWhh, R)
                : null;
            p.WhrN = pWhr != null && Gemm.TakesPacked(maxRows)
                ? weights.Packed.Get(k, PackedForm.Projection, weights.Version(k, RecurrentWeight.Projection), width, Transpose.No, R, H, pWhr, H)
                : null;
            try
            {
                // The forward's batch-parallel choice holds for the backward too (each thread owns the same rows), except
                // with a gradient-flow observer, whose norm sums over all running rows at each step.
                bool batchParallel = p.Schedule == RecurrentStepSchedule.BatchParallel && flow is null && options.BatchParallelBackward;
                backwardSchedules[k] = batchParallel ? RecurrentStepSchedule.BatchParallel : RecurrentStepSchedule.PerStep;
                if (batchParallel) BatchParallelPass.Backward(cell, p, batch.SortedLengths, Parallelism.ThreadCount);
                else BackwardPerStep(p, flow);
            }
            finally
            {
                p.WhhN = p.WhrN = null;
            }

            // dW_hr += sum_t dh_t^T m_t: one GEMM over all steps (rows past each sequence's end have dh = 0).
            if (gWhr != null)
                Gemm.Multiply(width, Transpose.Yes, Transpose.No, R, H, (int)rows, 1f, p.DHAll, R, p.M, H, 1f, gWhr, H);

            // dW_ih += dG^T X and dX (+)= dG W_ih: one GEMM each over all steps.
            Gemm.Multiply(width, Transpose.Yes, Transpose.No, gh, inSize, (int)rows, 1f, p.DGates, gh, p.X, inSize, 1f, gWih, inSize);
            if (dX != null && Gemm.TakesPacked((int)rows))
            {
                var wihN = weights.Packed.Get(k, PackedForm.InputHidden, weights.Version(k, RecurrentWeight.InputHidden), width,
                    Transpose.No, gh, inSize, pWih, inSize);
                Gemm.MultiplyPacked(Transpose.No, (int)rows, 1f, p.DGates, gh, wihN, accumulate ? 1f : 0f, dX, inSize);
            }
            else if (dX != null)
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
                ldPrev = R;
                for (int t = 0; t < T; t++)
                    for (int r = 0; r < B; r++)
                        TensorPrimitives.Multiply(new ReadOnlySpan<float>(p.YAt(t) + (long)r * p.LdY, R),
                            new ReadOnlySpan<float>(p.RecurrentMask + (long)r * R, R), new Span<float>(maskedStates + ((long)t * B + r) * R, R));
                h0 = maskedStates + (long)T * B * R;
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(p.H0, B * R), new ReadOnlySpan<float>(p.RecurrentMask, B * R), new Span<float>(h0, B * R));
            }
            if (T > 1)
            {
                float* a = p.Reverse ? p.DGatesH : p.DGatesH + (long)B * gh;
                float* y = p.Reverse ? prevStates + (long)B * ldPrev : prevStates;
                Gemm.Multiply(width, Transpose.Yes, Transpose.No, gh, R, (T - 1) * B, 1f, a, gh, y, ldPrev, 1f, gWhh, R);
            }
            if (p.HasH0)
            {
                float* a;
                if (!p.Reverse) a = p.DGatesH;
                else
                {
                    int[] sortedLengths = batch.SortedLengths;
                    for (int s = 0; s < B; s++)
                    {
                        int len = sortedLengths[s];
                        var dst = new Span<float>(rowScratch + (long)s * gh, gh);
                        if (len == 0) dst.Clear();
                        else new ReadOnlySpan<float>(p.DGatesHAt(len - 1) + (long)s * gh, gh).CopyTo(dst);
                    }
                    a = rowScratch;
                }
                Gemm.Multiply(width, Transpose.Yes, Transpose.No, gh, R, B, 1f, a, gh, h0, R, 1f, gWhh, R);
            }

            // Bias gradients: column sums over all steps, as ones (1, T*B) x dG, summed once and added to both biases
            // where they see the same gradient (every cell but the GRU, whose b_hn is inside r * (W_hn h + b_hn)).
            if (gBih != null)
            {
                var sum = new ReadOnlySpan<float>(biasSum, gh);
                Gemm.Multiply(width, Transpose.No, Transpose.No, 1, gh, (int)rows, 1f, ones, (int)rows, p.DGates, gh, 0f, biasSum, gh);
                TensorPrimitives.Add(new Span<float>(gBih, gh), sum, new Span<float>(gBih, gh));
                if (p.DGatesH != p.DGates)
                    Gemm.Multiply(width, Transpose.No, Transpose.No, 1, gh, (int)rows, 1f, ones, (int)rows, p.DGatesH, gh, 0f, biasSum, gh);
                TensorPrimitives.Add(new Span<float>(gBhh, gh), sum, new Span<float>(gBhh, gh));
            }
            p.Wih = p.Whh = p.Bhh = p.Whr = null;
        }
    }

    /// <summary>
    /// How <see cref="Backward"/> ran the time loop of a layer and direction: <see cref="RecurrentStepSchedule.BatchParallel"/>
    /// or <see cref="RecurrentStepSchedule.PerStep"/> (<see cref="RecurrentStepSchedule.Auto"/> before it has run).
    /// </summary>
    internal RecurrentStepSchedule BackwardSchedule(int layerIndex, int direction) => backwardSchedules[layerIndex * dirs + direction];

    /// <summary>
    /// The backward time loop of one pass, one dispatch per step (last step first), recording ||dL/dh_t|| into
    /// <paramref name="flow"/> when given.
    /// </summary>
    private void BackwardPerStep(DirectionPass p, double[]? flow)
    {
        int T = p.T, R = p.R;
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
                    for (int j = 0; j < R; j++)
                    {
                        double g = p.DH[(long)r * R + j] + p.DYAt(t)[(long)r * p.LdY + j];
                        sum += g * g;
                    }
                flow[t] = Math.Sqrt(sum);
            }
            int n = p.PrevRanges(t, ranges);
            step.Run(cell, p, t, isBackward: true, ranges[..n], options.FusedMax);
        }
    }

    /// <summary>The dropout mask applied to layer <paramref name="layerIndex"/>'s output (time-major, batch sorted by length), or null.</summary>
    internal float[]? DropoutMaskSorted(int layerIndex)
    {
        float* m = dropoutMask[layerIndex];
        return m == null ? null : new ReadOnlySpan<float>(m, steps * batchSize * dirs * state).ToArray();
    }

    /// <summary>The recurrent-dropout mask of a layer and direction, (B, R) in original batch order, or null.</summary>
    internal float[]? RecurrentMaskOriginal(int layerIndex, int direction)
    {
        float* m = passes[layerIndex * dirs + direction].RecurrentMask;
        if (m == null) return null;
        var result = new float[batchSize * state];
        batch.ScatterStates(new ReadOnlySpan<float>(m, batchSize * state), 1, state, result);
        return result;
    }

    /// <summary>Returns every buffer to the pool.</summary>
    public void Dispose()
    {
        foreach (var a in rented) PinnedPool.Return(a);
        rented.Clear();
    }
}
