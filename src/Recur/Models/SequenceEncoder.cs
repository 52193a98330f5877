using System.Text.Json.Serialization;
using Recur.Data;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>A padded, batch-first batch of sequences: token ids or feature vectors, with lengths and targets.</summary>
public sealed class SequenceBatch
{
    /// <summary>Token ids (B*T, batch-first), or null for feature input.</summary>
    public int[]? Tokens { get; init; }

    /// <summary>Feature vectors (B, T, F), or null for token input.</summary>
    public Tensor? Features { get; init; }

    /// <summary>Valid steps of each sequence.</summary>
    public required int[] Lengths { get; init; }

    /// <summary>Padded steps per sequence (T).</summary>
    public required int Steps { get; init; }

    /// <summary>Sequences (B).</summary>
    public int Batch => Lengths.Length;

    /// <summary>Targets: one class per sequence (classifier), or per step (B*T, -100 at padding; tagger, LM).</summary>
    public int[]? Targets { get; init; }

    /// <summary>Regression targets (B, outputs), one row per sequence; null for classification or unlabelled batches.</summary>
    public Tensor? Values { get; init; }

    /// <summary>
    /// Builds an unlabelled feature batch (B, T, F) of all <paramref name="sequences"/>: each array holds one sequence's
    /// steps row-major (T_i * F values, step by step); T is the longest length, shorter sequences are padded with zeros
    /// (never read: the model uses <see cref="Lengths"/>). With <paramref name="standardizer"/>, every step is
    /// standardised on the way in.
    /// </summary>
    public static SequenceBatch FromFeatures(IReadOnlyList<float[]> sequences, int features, Standardizer? standardizer = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        return FromFeatures(sequences, features, Enumerable.Range(0, sequences.Count).ToArray(), standardizer: standardizer);
    }

    /// <summary>
    /// Builds a feature batch (B, T, F) of the sequences at <paramref name="indices"/> (a batch of a larger set): each
    /// array holds one sequence's steps row-major (T_i * F values, step by step); T is the longest selected length,
    /// shorter sequences are padded with zeros (never read: the model uses <see cref="Lengths"/>). With
    /// <paramref name="standardizer"/>, every step is standardised on the way in.
    /// </summary>
    /// <param name="sequences">The whole set, each T_i * <paramref name="features"/> values.</param>
    /// <param name="features">Features per step (F).</param>
    /// <param name="indices">The sequences of the batch, in batch order.</param>
    /// <param name="targets">One class per sequence of the whole set (classification), or null; the batch takes those at the indices.</param>
    /// <param name="values">One target value per sequence of the whole set (regression), or null; the batch takes those at the indices.</param>
    /// <param name="standardizer">Per-feature statistics to apply (fitted on training data), or null for the values as they are.</param>
    public static SequenceBatch FromFeatures(IReadOnlyList<float[]> sequences, int features, ReadOnlySpan<int> indices, int[]? targets = null, float[]? values = null, Standardizer? standardizer = null)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (targets is not null && targets.Length != sequences.Count)
            throw new ArgumentException($"targets must hold one class per sequence (expected {sequences.Count}, got {targets.Length})", nameof(targets));
        if (values is not null && values.Length != sequences.Count)
            throw new ArgumentException($"values must hold one target per sequence (expected {sequences.Count}, got {values.Length})", nameof(values));
        var (x, lens, t) = Data.Batching.PadFeatures(sequences, features, indices, standardizer);
        int b = indices.Length;
        int[]? batchTargets = null;
        Tensor? batchValues = null;
        if (targets is not null) { batchTargets = new int[b]; for (int k = 0; k < b; k++) batchTargets[k] = targets[indices[k]]; }
        if (values is not null) { batchValues = new Tensor(b, 1); for (int k = 0; k < b; k++) batchValues.Span[k] = values[indices[k]]; }
        return new SequenceBatch { Features = x, Lengths = lens, Steps = t, Targets = batchTargets, Values = batchValues };
    }

    /// <summary>Builds a token batch from examples, padding with id 0.</summary>
    public static SequenceBatch FromTokens(IReadOnlyList<int[]> sequences, ReadOnlySpan<int> indices, int[]? targets = null)
    {
        var (ids, lens, t) = Data.Batching.PadTokens(sequences, indices, 0);
        return new SequenceBatch { Tokens = ids, Lengths = lens, Steps = t, Targets = targets };
    }
}

/// <summary>Configuration of the embedding + recurrent trunk shared by the sequence models.</summary>
public sealed record EncoderConfig
{
    /// <summary>Vocabulary size for token input (an embedding with padding id 0 is created); null for feature input.</summary>
    public int? VocabularySize { get; init; }
    /// <summary>Embedding width for token input.</summary>
    public int EmbeddingDim { get; init; } = 64;
    /// <summary>Features per step for numeric input.</summary>
    public int? InputFeatures { get; init; }
    /// <summary>The recurrent cell.</summary>
    public RecurrentMode Cell { get; init; } = RecurrentMode.Lstm;
    /// <summary>Hidden units per direction.</summary>
    public int HiddenSize { get; init; } = 128;
    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 1;
    /// <summary>
    /// LSTM only: units of the recurrent projection (LSTMP, PyTorch's <c>proj_size</c>), smaller than
    /// <see cref="HiddenSize"/>; the encoder's output is then D * ProjSize wide. 0 (the default) for none; not written
    /// to model files when 0.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int ProjSize { get; init; }
    /// <summary>Run each layer in both directions.</summary>
    public bool Bidirectional { get; init; }
    /// <summary>Dropout on the embedded input and between layers (training only).</summary>
    public float Dropout { get; init; }
    /// <summary>Variational dropout on the recurrent connection: one mask per sequence, reused at every step.</summary>
    public float RecurrentDropout { get; init; }

    /// <summary>
    /// Word dropout (token input, training only): each token of a sequence is replaced by <c>&lt;unk&gt;</c> (id 1, where
    /// <see cref="Data.Vocabulary"/> puts it) with this probability, so the model learns not to rely on any one word and
    /// what to do with unknown ones (Iyyer et al. 2015; Dai and Le 2015). Not written to model files when 0.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float WordDropout { get; init; }

    /// <summary>
    /// Embedding dropout (token input, training only): in each batch, each word type's embedding row is dropped with
    /// this probability, every occurrence of the word at once, and the rows kept are scaled by 1/(1-p) (Gal and
    /// Ghahramani 2016; Merity et al. 2018's <c>embedded_dropout</c>). Not written to model files when 0.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public float EmbeddingDropout { get; init; }

    /// <summary>Input width of the recurrent stack.</summary>
    [JsonIgnore] // derived, not stored in model files
    public int RecurrentInput => VocabularySize is not null ? EmbeddingDim : InputFeatures ?? throw new InvalidOperationException("set VocabularySize or InputFeatures");

    /// <summary>Checks the configuration, naming the field.</summary>
    public void Validate()
    {
        if ((VocabularySize is null) == (InputFeatures is null))
            throw new ArgumentException("set exactly one of VocabularySize (token input) and InputFeatures (numeric input)");
        if (VocabularySize is < 2) throw new ArgumentOutOfRangeException(nameof(VocabularySize), VocabularySize, "VocabularySize must be >= 2");
        if (InputFeatures is < 1) throw new ArgumentOutOfRangeException(nameof(InputFeatures), InputFeatures, "InputFeatures must be >= 1");
        if (EmbeddingDim < 1) throw new ArgumentOutOfRangeException(nameof(EmbeddingDim), EmbeddingDim, "EmbeddingDim must be >= 1");
        if (ProjSize < 0 || (ProjSize > 0 && ProjSize >= HiddenSize))
            throw new ArgumentOutOfRangeException(nameof(ProjSize), ProjSize, $"ProjSize must be 0 (none) or in [1, HiddenSize = {HiddenSize})");
        if (ProjSize > 0 && Cell != RecurrentMode.Lstm)
            throw new ArgumentException($"ProjSize (an LSTM projection) needs Cell = Lstm, found {Cell}");
        if (!(Dropout >= 0f && Dropout < 1f)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1)");
        if (!(RecurrentDropout >= 0f && RecurrentDropout < 1f)) throw new ArgumentOutOfRangeException(nameof(RecurrentDropout), RecurrentDropout, "RecurrentDropout must be in [0, 1)");
        if (!(WordDropout >= 0f && WordDropout < 1f)) throw new ArgumentOutOfRangeException(nameof(WordDropout), WordDropout, "WordDropout must be in [0, 1)");
        if (!(EmbeddingDropout >= 0f && EmbeddingDropout < 1f)) throw new ArgumentOutOfRangeException(nameof(EmbeddingDropout), EmbeddingDropout, "EmbeddingDropout must be in [0, 1)");
        if ((WordDropout > 0f || EmbeddingDropout > 0f) && VocabularySize is null)
            throw new ArgumentException("WordDropout and EmbeddingDropout apply to token input: set VocabularySize, or leave them at 0");
    }
}

/// <summary>
/// Token embedding (or numeric input) with input dropout, then a <see cref="Recurrent"/> stack, batch-first.
/// The trunk of the classifier, tagger and language model. In training mode, token input may also get word dropout
/// and embedding dropout (<see cref="EncoderConfig.WordDropout"/>, <see cref="EncoderConfig.EmbeddingDropout"/>),
/// from a stream of their own.
/// </summary>
public sealed class SequenceEncoder : Module
{
    private readonly Dropout inputDropout;
    private readonly Rng? tokenRng;

    /// <summary>Id of <c>&lt;unk&gt;</c> in every <see cref="Data.Vocabulary"/>: what word dropout puts in.</summary>
    private const int UnknownId = 1;

    /// <summary>Creates the trunk.</summary>
    public SequenceEncoder(EncoderConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        if (config.VocabularySize is { } v) Embedding = AddModule("embedding", new Embedding(v, config.EmbeddingDim, paddingIndex: 0, rng: rng.Split()));
        Rnn = AddModule("rnn", new Recurrent(config.Cell, config.RecurrentInput, config.HiddenSize, config.Layers, config.Bidirectional,
            batchFirst: true, dropout: config.Layers > 1 ? config.Dropout : 0f, rng: rng.Split(), recurrentDropout: config.RecurrentDropout,
            projSize: config.ProjSize));
        inputDropout = AddModule("input_dropout", new Dropout(config.Dropout, rng.Split()));
        // Drawn only when used, so that a model without them is initialised as before.
        if (config.WordDropout > 0f || config.EmbeddingDropout > 0f) tokenRng = AddRng("token_dropout_rng", rng.Split());
    }

    /// <summary>The configuration.</summary>
    public EncoderConfig Config { get; }
    /// <summary>The token embedding, for token input.</summary>
    public Embedding? Embedding { get; }
    /// <summary>The recurrent stack.</summary>
    public Recurrent Rnn { get; }
    /// <summary>Features per output step.</summary>
    public int OutputSize => Rnn.OutputSize;

    /// <summary>The state of one forward pass: the recurrent output, and what <see cref="Backward"/> needs. Dispose it after backward.</summary>
    public sealed class Pass : IDisposable
    {
        internal EmbeddingOutput? Embedded;
        internal DropoutOutput? Dropped;
        internal float[]? RowScale; // embedding dropout: the scale of each position's embedded row
        internal int Width;
        /// <summary>The recurrent output (outputs and final states).</summary>
        public required RecurrentOutput Rnn { get; init; }

        /// <summary>
        /// Backpropagates into the recurrent stack and the embedding. Returns dL/dh0 and dL/dc0. An observer in
        /// <paramref name="gradientFlow"/> receives the recurrent stack's ||dL/dh_t|| curves (see
        /// <see cref="RecurrentOutput.Backward"/>).
        /// </summary>
        public RecurrentGradients Backward(Tensor? dOutput, Tensor? dHidden = null, Tensor? dCell = null, IGradientFlowObserver? gradientFlow = null)
        {
            var g = Rnn.Backward(dOutput, dHidden, dCell, gradientFlow);
            if (Embedded is not null)
            {
                var dx = Dropped is null ? g.Input : Dropped.Backward(g.Input);
                if (RowScale is not null) ScaleRows(dx, RowScale, Width);
                Embedded.Backward(dx);
            }
            return g;
        }

        /// <inheritdoc/>
        public void Dispose() => Rnn.Dispose();
    }

    /// <summary>Runs the trunk on a batch (tokens or features), from the given initial states.</summary>
    public Pass Forward(SequenceBatch batch, Tensor? h0 = null, Tensor? c0 = null, bool requiresGrad = true)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Tensor x;
        EmbeddingOutput? embedded = null;
        float[]? rowScale = null;
        if (Embedding is not null)
        {
            if (batch.Tokens is null) throw new ArgumentException("this model reads token ids: batch.Tokens is null", nameof(batch));
            var tokens = batch.Tokens;
            if (Training && tokenRng is not null && Config.WordDropout > 0f) tokens = DropWords(batch);
            embedded = Embedding.Forward(tokens, [batch.Batch, batch.Steps]);
            x = embedded.Output;
            if (Training && tokenRng is not null && Config.EmbeddingDropout > 0f)
            {
                rowScale = DropEmbeddings(tokens);
                ScaleRows(x, rowScale, Config.EmbeddingDim);
            }
        }
        else
        {
            x = batch.Features ?? throw new ArgumentException("this model reads feature vectors: batch.Features is null", nameof(batch));
            if (x.Rank != 3 || x.Dim(0) != batch.Batch || x.Dim(1) != batch.Steps || x.Dim(2) != Config.InputFeatures)
                throw new ArgumentException($"batch.Features must have shape (B={batch.Batch}, T={batch.Steps}, F={Config.InputFeatures}), got {Tensor.ShapeString(x.Shape)}", nameof(batch));
        }
        DropoutOutput? dropped = null;
        if (Training && Config.Dropout > 0f)
        {
            dropped = inputDropout.Forward(x);
            x = dropped.Output;
        }
        // dL/dx is needed only to train an embedding; feature input is data, so the engine skips that GEMM.
        var r = Rnn.Forward(x, batch.Lengths, h0, c0, requiresGrad, inputRequiresGrad: Embedding is not null);
        return new Pass { Rnn = r, Embedded = embedded, Dropped = dropped, RowScale = rowScale, Width = Config.EmbeddingDim };
    }

    /// <summary>The batch's tokens with each valid one replaced by <c>&lt;unk&gt;</c> with probability <see cref="EncoderConfig.WordDropout"/>.</summary>
    private int[] DropWords(SequenceBatch batch)
    {
        var tokens = (int[])batch.Tokens!.Clone();
        float p = Config.WordDropout;
        for (int i = 0; i < batch.Batch; i++)
            for (int t = 0; t < batch.Lengths[i]; t++)
                if (tokenRng!.NextFloat() < p) tokens[i * batch.Steps + t] = UnknownId;
        return tokens;
    }

    /// <summary>
    /// One draw per vocabulary row (as <c>embedded_dropout</c> masks the whole table): the scale of each position's
    /// row, 0 for a dropped word and 1/(1-p) for a kept one; padding keeps 1 (its row is zero).
    /// </summary>
    private float[] DropEmbeddings(int[] tokens)
    {
        float p = Config.EmbeddingDropout, keep = 1f / (1f - p);
        var rows = new float[Config.VocabularySize!.Value];
        for (int v = 0; v < rows.Length; v++) rows[v] = tokenRng!.NextFloat() < p ? 0f : keep;
        var scale = new float[tokens.Length];
        for (int i = 0; i < tokens.Length; i++) scale[i] = tokens[i] == 0 ? 1f : rows[tokens[i]];
        return scale;
    }

    private static void ScaleRows(Tensor x, float[] scale, int width)
    {
        var s = x.Span;
        for (int i = 0; i < scale.Length; i++)
            if (scale[i] != 1f) TensorPrimitives.Multiply(s.Slice(i * width, width), scale[i], s.Slice(i * width, width));
    }
}
