using Recur.Kernels;
using Recur.Kernels.Recurrent;
using Recur.Tensors;

namespace Recur.Nn;

/// <summary>
/// A stack of recurrent layers with PyTorch's semantics and parameter names: <c>torch.nn.RNN</c>, <c>LSTM</c> and
/// <c>GRU</c> in one class. See <see cref="Rnn"/>, <see cref="Lstm"/> and <see cref="Gru"/> for the usual entry points.
/// </summary>
/// <remarks>
/// <para>Cells (H hidden units, G gates):</para>
/// <code>
/// RNN : h' = act(W_ih x + b_ih + W_hh h + b_hh)                 act = tanh or relu, G = 1
/// LSTM: i,f,g,o = sig,sig,tanh,sig(W_ih x + b_ih + W_hh h + b_hh)  G = 4
///       c' = f * c + i * g          h' = o * tanh(c')
/// GRU : r = sig(W_ir x + b_ir + W_hr h + b_hr)                     G = 3
///       z = sig(W_iz x + b_iz + W_hz h + b_hz)
///       n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
///       h' = (1 - z) * n + z * h
/// </code>
/// <para>Parameters for layer k and direction suffix s ("" or "_reverse"): <c>weight_ih_l{k}{s}</c> (G*H, in),
/// <c>weight_hh_l{k}{s}</c> (G*H, H), <c>bias_ih_l{k}{s}</c> and <c>bias_hh_l{k}{s}</c> (G*H), initialised from
/// U(-1/sqrt(H), 1/sqrt(H)). A PyTorch <c>state_dict</c> loads with <see cref="Module.LoadStateDict"/>.</para>
/// <para>LSTM with a projection (LSTMP, Sak et al. 2014; PyTorch's <c>proj_size</c> P &gt; 0): each layer and
/// direction also has <c>weight_hr_l{k}{s}</c> (P, H) and h' = W_hr (o * tanh(c')), so h, h0 and h_n have P units
/// (c keeps H), <c>weight_hh</c> is (4H, P), the output is D*P wide and layers above the first read D*P inputs.</para>
/// <para>Variable lengths behave as PyTorch's <c>pack_padded_sequence(enforce_sorted=False)</c>: outputs past a
/// sequence's end are zero, final states come from its last valid step, the reverse direction starts at its own
/// end, and the caller need not sort. Length 0 is allowed: the sequence's outputs are all zero and its final
/// state is its initial state (PyTorch itself rejects length 0).</para>
/// <para>Internally the batch is sorted by length and processed time-major, so step t touches only the rows
/// still running. The input projection of all steps is one GEMM per layer and direction, and so are dW_ih, dX
/// and dW_hh; only <c>h W_hh^T</c> (and its backward <c>dG W_hh</c>) runs inside the time loop. The packed forms of W_ih and W_hh are kept
/// across calls and repacked only when a weight's <see cref="Tensor.Version"/> changed (an optimizer step,
/// <see cref="Module.LoadStateDict"/>, any writable access to its values). Nothing is allocated inside the time loop. The engine that does this lives in
/// <c>Kernels/Recurrent</c>; this class owns the parameters and the dropout masks' random stream, validates, and
/// hands the engine plain spans.</para>
/// </remarks>
public class Recurrent : Module, IRecurrentWeights, IDropoutMasks
{
    private readonly Parameter[] wih, whh;
    private readonly Parameter?[] whr;
    private readonly Parameter?[] bih, bhh;
    private readonly Rng dropoutRng;

    /// <summary>Creates the layer stack and initialises it from <paramref name="rng"/> (seed 0 when null).</summary>
    /// <param name="mode">The cell.</param>
    /// <param name="inputSize">Features per time step of the input (I).</param>
    /// <param name="hiddenSize">Hidden units per direction (H).</param>
    /// <param name="numLayers">Stacked layers (L); layer k &gt; 0 reads layer k-1's output.</param>
    /// <param name="bidirectional">Whether each layer also runs backward in time (D = 2); outputs are concatenated [forward, reverse].</param>
    /// <param name="bias">Whether the layers have b_ih and b_hh.</param>
    /// <param name="batchFirst">Input and output are (B, T, features) instead of (T, B, features).</param>
    /// <param name="dropout">Dropout probability on the outputs of every layer but the last, in training mode.</param>
    /// <param name="rng">Source of the initial weights and of the dropout masks.</param>
    /// <param name="recurrentDropout">
    /// Variational dropout on the recurrent connection, in training mode: one mask per sequence (and layer and
    /// direction), reused at every step, multiplies h_{t-1} in h_{t-1} W_hh^T (Gal and Ghahramani 2016; Keras'
    /// <c>recurrent_dropout</c>).
    /// </param>
    /// <param name="projSize">
    /// LSTM only: units of the recurrent projection h = W_hr (o * tanh(c)) (PyTorch's <c>proj_size</c>), in
    /// [1, <paramref name="hiddenSize"/>); 0 (the default) for none.
    /// </param>
    public Recurrent(RecurrentMode mode, int inputSize, int hiddenSize, int numLayers = 1, bool bidirectional = false,
        bool bias = true, bool batchFirst = false, float dropout = 0f, Rng? rng = null, float recurrentDropout = 0f, int projSize = 0)
    {
        if (!Enum.IsDefined(mode)) throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown recurrent mode");
        if (inputSize < 1) throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize, "inputSize must be >= 1");
        if (hiddenSize < 1) throw new ArgumentOutOfRangeException(nameof(hiddenSize), hiddenSize, "hiddenSize must be >= 1");
        if (numLayers < 1) throw new ArgumentOutOfRangeException(nameof(numLayers), numLayers, "numLayers must be >= 1");
        if (!(dropout >= 0f && dropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(dropout), dropout, "dropout must be in [0, 1)");
        if (!(recurrentDropout >= 0f && recurrentDropout < 1f))
            throw new ArgumentOutOfRangeException(nameof(recurrentDropout), recurrentDropout, "recurrentDropout must be in [0, 1)");
        RecurrentDropout = recurrentDropout;
        if (projSize < 0) throw new ArgumentOutOfRangeException(nameof(projSize), projSize, "projSize must be >= 0 (0 for no projection)");
        if (projSize > 0 && mode != RecurrentMode.Lstm)
            throw new ArgumentException($"projSize (proj_size) is only for LSTM, but this layer is {mode}", nameof(projSize));
        if (projSize >= hiddenSize && projSize > 0)
            throw new ArgumentOutOfRangeException(nameof(projSize), projSize, $"projSize must be smaller than hiddenSize ({hiddenSize})");
        ProjSize = projSize;

        Mode = mode;
        Cell = RecurrentCell.For(mode switch
        {
            RecurrentMode.RnnTanh => CellKind.RnnTanh,
            RecurrentMode.RnnRelu => CellKind.RnnRelu,
            RecurrentMode.Lstm => CellKind.Lstm,
            _ => CellKind.Gru,
        });
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        NumLayers = numLayers;
        Bidirectional = bidirectional;
        HasBias = bias;
        BatchFirst = batchFirst;
        Dropout = dropout;

        int d = Directions, g = Cell.GateCount * hiddenSize, r = StateSize;
        wih = new Parameter[numLayers * d];
        whh = new Parameter[numLayers * d];
        whr = new Parameter?[numLayers * d];
        bih = new Parameter?[numLayers * d];
        bhh = new Parameter?[numLayers * d];
        for (int l = 0; l < numLayers; l++)
        {
            int inSize = l == 0 ? inputSize : d * r;
            for (int dir = 0; dir < d; dir++)
            {
                string s = $"l{l}{(dir == 1 ? "_reverse" : "")}";
                int k = l * d + dir;
                wih[k] = AddParameter($"weight_ih_{s}", g, inSize);
                whh[k] = AddParameter($"weight_hh_{s}", g, r);
                if (bias)
                {
                    bih[k] = AddParameter($"bias_ih_{s}", g);
                    bhh[k] = AddParameter($"bias_hh_{s}", g);
                }
                if (projSize > 0) whr[k] = AddParameter($"weight_hr_{s}", projSize, hiddenSize);
            }
        }

        rng ??= new Rng(0);
        float bound = 1f / MathF.Sqrt(hiddenSize);
        foreach (var p in Parameters()) rng.FillUniform(p.Value.Span, -bound, bound);
        dropoutRng = AddRng("dropout_rng", rng.Split());
    }

    /// <summary>The cell.</summary>
    public RecurrentMode Mode { get; }
    /// <summary>Features per input step (I).</summary>
    public int InputSize { get; }
    /// <summary>Hidden units per direction (H).</summary>
    public int HiddenSize { get; }
    /// <summary>Stacked layers (L).</summary>
    public int NumLayers { get; }
    /// <summary>LSTM projection units P (PyTorch's <c>proj_size</c>); 0 when there is no projection.</summary>
    public int ProjSize { get; }
    /// <summary>Units of h per direction: <see cref="ProjSize"/> when projecting, else <see cref="HiddenSize"/>.</summary>
    public int StateSize => ProjSize > 0 ? ProjSize : HiddenSize;
    /// <summary>Whether each layer runs in both directions.</summary>
    public bool Bidirectional { get; }
    /// <summary>Whether the layers have biases.</summary>
    public bool HasBias { get; }
    /// <summary>Whether input and output are (B, T, features).</summary>
    public bool BatchFirst { get; }
    /// <summary>Dropout between layers in training mode.</summary>
    public float Dropout { get; }
    /// <summary>Variational dropout on h_{t-1} in the recurrent product, in training mode.</summary>
    public float RecurrentDropout { get; }

    /// <summary>
    /// How the engine schedules its work (<see cref="RecurrentEngineOptions"/>): a per-layer setting that changes
    /// speed, not results. Default <see cref="RecurrentEngineOptions.Default"/>.
    /// </summary>
    public RecurrentEngineOptions Engine
    {
        get => engine;
        set => engine = value ?? throw new ArgumentNullException(nameof(value));
    }
    private RecurrentEngineOptions engine = RecurrentEngineOptions.Default;

    /// <summary>Number of directions D (2 when bidirectional).</summary>
    public int Directions => Bidirectional ? 2 : 1;
    /// <summary>Features per output step: D * H, or D * P with a projection.</summary>
    public int OutputSize => Directions * StateSize;

    internal RecurrentCell Cell { get; }
    internal Parameter WeightIh(int layer, int dir) => wih[layer * Directions + dir];
    internal Parameter WeightHh(int layer, int dir) => whh[layer * Directions + dir];
    internal Parameter? BiasIh(int layer, int dir) => bih[layer * Directions + dir];
    internal Parameter? BiasHh(int layer, int dir) => bhh[layer * Directions + dir];
    internal Parameter? WeightHr(int layer, int dir) => whr[layer * Directions + dir];

    private Parameter? Weight(int pass, RecurrentWeight which) => which switch
    {
        RecurrentWeight.InputHidden => wih[pass],
        RecurrentWeight.HiddenHidden => whh[pass],
        RecurrentWeight.InputBias => bih[pass],
        RecurrentWeight.Projection => whr[pass],
        _ => bhh[pass],
    };

    ReadOnlySpan<float> IRecurrentWeights.Value(int pass, RecurrentWeight which) => Weight(pass, which) is { } p ? p.Value.ReadOnly : default;

    long IRecurrentWeights.Version(int pass, RecurrentWeight which) => Weight(pass, which) is { } p ? p.Value.Version : 0;

    PackedWeights IRecurrentWeights.Packed => packed;
    private readonly PackedWeights packed = new();

    /// <summary>How many times this layer packed a weight for its GEMMs (the packed copies are kept while the weights are unchanged); for tests.</summary>
    internal long PackCount => packed.PackCount;

    Span<float> IRecurrentWeights.Gradient(int pass, RecurrentWeight which) => Weight(pass, which) is { } p ? p.Grad.Span : default;

    void IRecurrentWeights.GradientsDone(int pass)
    {
        wih[pass].OnGradientAccumulated();
        whh[pass].OnGradientAccumulated();
        bih[pass]?.OnGradientAccumulated();
        bhh[pass]?.OnGradientAccumulated();
        whr[pass]?.OnGradientAccumulated();
    }

    void IDropoutMasks.Fill(Span<float> mask, float p)
    {
        float scale = 1f / (1f - p);
        for (int i = 0; i < mask.Length; i++) mask[i] = dropoutRng.NextFloat() < p ? 0f : scale;
    }

    /// <summary>
    /// LSTM only: sets the forget-gate bias of every layer and direction so that b_ih + b_hh = <paramref name="value"/>
    /// for the f gate (b_ih = value, b_hh = 0). A bias of 1 starts the forget gate near 0.73 instead of 0.5, so the cell
    /// state (and the gradient through it) decays far more slowly over long sequences (Gers et al. 2000; Jozefowicz
    /// et al. 2015; Keras' <c>unit_forget_bias</c>). PyTorch's default initialisation is left untouched otherwise.
    /// </summary>
    public void SetForgetGateBias(float value)
    {
        if (Mode != RecurrentMode.Lstm) throw new InvalidOperationException($"only an LSTM has a forget gate; this layer is {Mode}");
        if (!HasBias) throw new InvalidOperationException("this layer has no biases (bias: false)");
        if (!float.IsFinite(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "the bias must be finite");
        int h = HiddenSize;
        for (int k = 0; k < wih.Length; k++)
        {
            bih[k]!.Value.Span.Slice(h, h).Fill(value);   // gates are [i | f | g | o]
            bhh[k]!.Value.Span.Slice(h, h).Clear();
        }
    }

    /// <summary>
    /// Runs the whole sequence. Returns the outputs, final states and, when <paramref name="requiresGrad"/>, what
    /// <see cref="RecurrentOutput.Backward"/> needs. Dispose the result to recycle its buffers.
    /// </summary>
    /// <param name="input">(T, B, I), or (B, T, I) when <see cref="BatchFirst"/>.</param>
    /// <param name="lengths">Valid steps of each sequence, each in [0, T]; null means all T. Any order.</param>
    /// <param name="h0">Initial hidden state (L*D, B, H) (P with a projection), index layer*D + direction; null means zeros.</param>
    /// <param name="c0">Initial cell state (L*D, B, H), LSTM only; null means zeros.</param>
    /// <param name="requiresGrad">Keep what backward needs (a little more memory and time).</param>
    /// <param name="inputRequiresGrad">
    /// Whether backward computes dL/d<paramref name="input"/>. Pass false when the input is data rather than the
    /// output of a layer being trained (token embeddings that are frozen, audio features, a time series): backward
    /// then skips the first layer's dX = dGates W_ih (for a one-layer LSTM about a ninth of a training step's
    /// multiply-adds) and <see cref="RecurrentGradients.Input"/> is an empty tensor. Weight and state gradients are
    /// bitwise the same either way.
    /// </param>
    public RecurrentOutput Forward(Tensor input, int[]? lengths = null, Tensor? h0 = null, Tensor? c0 = null, bool requiresGrad = true,
        bool inputRequiresGrad = true)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (input.Rank != 3)
            throw new ArgumentException(
                $"input must have rank 3, {(BatchFirst ? "(B, T, I)" : "(T, B, I)")}, got shape {Tensor.ShapeString(input.Shape)}", nameof(input));
        int T = BatchFirst ? input.Dim(1) : input.Dim(0);
        int B = BatchFirst ? input.Dim(0) : input.Dim(1);
        if (input.Dim(2) != InputSize)
            throw new ArgumentException($"input.Shape[2] must equal InputSize (expected {InputSize}, got {input.Dim(2)})", nameof(input));
        if (B < 1) throw new ArgumentException($"input batch size must be >= 1, got {B}", nameof(input));
        if (T < 1) throw new ArgumentException($"input must have at least one time step, got {T}", nameof(input));
        int[] lens = CheckLengths(lengths, B, T);
        CheckState(h0, nameof(h0), B, StateSize);
        if (c0 is not null && Mode != RecurrentMode.Lstm)
            throw new ArgumentException($"c0 is only used by LSTM, but this layer is {Mode}", nameof(c0));
        CheckState(c0, nameof(c0), B, HiddenSize);
        CheckFinite(input, nameof(input), lens);
        if (h0 is not null && !TensorPrimitives.IsFiniteAll<float>(h0.Span))
            throw new ArgumentException("h0 contains NaN or infinity", nameof(h0));
        if (c0 is not null && !TensorPrimitives.IsFiniteAll<float>(c0.Span))
            throw new ArgumentException("c0 contains NaN or infinity", nameof(c0));

        var output = new RecurrentOutput(this, T, lens, requiresGrad, inputRequiresGrad);
        try
        {
            output.RunForward(input, h0, c0, Training ? Dropout : 0f, Training ? RecurrentDropout : 0f);
        }
        catch
        {
            output.Dispose();
            throw;
        }
        return output;
    }

    private static int[] CheckLengths(int[]? lengths, int batch, int steps)
    {
        if (lengths is null)
        {
            var all = new int[batch];
            Array.Fill(all, steps);
            return all;
        }
        if (lengths.Length != batch)
            throw new ArgumentException($"lengths.Length must equal the batch size (expected {batch}, got {lengths.Length})", nameof(lengths));
        for (int b = 0; b < batch; b++)
            if (lengths[b] < 0 || lengths[b] > steps)
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[b], $"lengths[{b}] must be in [0, T={steps}], got {lengths[b]}");
        return (int[])lengths.Clone();
    }

    private void CheckState(Tensor? state, string name, int batch, int width)
    {
        if (state is null) return;
        int[] expected = [NumLayers * Directions, batch, width];
        string w = width == HiddenSize ? "H" : "P";
        if (!state.SameShape(expected))
            throw new ArgumentException(
                $"{name} must have shape (NumLayers*Directions, B, {w}) = {Tensor.ShapeString(expected)}, got {Tensor.ShapeString(state.Shape)}", name);
    }

    private void CheckFinite(Tensor input, string name, int[] lens)
    {
        var x = input.Span;
        if (TensorPrimitives.IsFiniteAll<float>(x)) return;
        int T = BatchFirst ? input.Dim(1) : input.Dim(0), B = lens.Length, I = InputSize;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < lens[b]; t++)
            {
                int row = BatchFirst ? b * T + t : t * B + b;
                for (int i = 0; i < I; i++)
                    if (!float.IsFinite(x[row * I + i]))
                        throw new ArgumentException(
                            $"{name} contains a non-finite value ({x[row * I + i]}) at [t={t}, b={b}, i={i}], inside the sequence's valid length {lens[b]}", name);
            }
        // Non-finite values only in the padding past each sequence's length: ignored, as PyTorch's packing does.
    }
}
