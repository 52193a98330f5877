using Recur.Models.Decoding;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of a <see cref="Seq2Seq"/> model.</summary>
public sealed record Seq2SeqConfig
{
    /// <summary>The encoder over source tokens (may be bidirectional and stacked).</summary>
    public required EncoderConfig Encoder { get; init; }
    /// <summary>Target vocabulary size (with &lt;pad&gt; = 0, &lt;unk&gt; = 1, &lt;bos&gt;, &lt;eos&gt;).</summary>
    public required int TargetVocabulary { get; init; }
    /// <summary>Id of &lt;bos&gt; in the target vocabulary.</summary>
    public required int BosId { get; init; }
    /// <summary>Id of &lt;eos&gt; in the target vocabulary.</summary>
    public required int EosId { get; init; }
    /// <summary>Decoder embedding width.</summary>
    public int DecoderEmbedding { get; init; } = 64;
    /// <summary>Decoder cell.</summary>
    public RecurrentMode DecoderCell { get; init; } = RecurrentMode.Lstm;
    /// <summary>Decoder hidden units.</summary>
    public int DecoderHidden { get; init; } = 128;
    /// <summary>Decoder layers.</summary>
    public int DecoderLayers { get; init; } = 1;
    /// <summary>Dropout on the attentional hidden state and the decoder's embedded input (training only).</summary>
    public float Dropout { get; init; }
}

/// <summary>Source ids, target ids with &lt;bos&gt; first and &lt;eos&gt; last, padded, batch-first.</summary>
public sealed class TranslationBatch
{
    /// <summary>Source ids (B*S).</summary>
    public required int[] Source { get; init; }
    /// <summary>Source lengths.</summary>
    public required int[] SourceLengths { get; init; }
    /// <summary>Padded source steps (S).</summary>
    public required int SourceSteps { get; init; }
    /// <summary>Target ids (B*T) = [bos, y1, ..., yn, eos], padded with 0.</summary>
    public required int[] Target { get; init; }
    /// <summary>Target lengths, &lt;bos&gt; and &lt;eos&gt; included.</summary>
    public required int[] TargetLengths { get; init; }
    /// <summary>Padded target steps (T).</summary>
    public required int TargetSteps { get; init; }
    /// <summary>Sequences (B).</summary>
    public int Batch => SourceLengths.Length;

    /// <summary>Builds a batch from source and target id sequences (targets without bos/eos; they are added).</summary>
    public static TranslationBatch Create(IReadOnlyList<int[]> sources, IReadOnlyList<int[]> targets, ReadOnlySpan<int> indices, int bos, int eos)
    {
        var (src, srcLen, s) = Data.Batching.PadTokens(sources, indices, 0);
        var wrapped = new List<int[]>(indices.Length);
        foreach (int i in indices) wrapped.Add([bos, .. targets[i], eos]);
        var (tgt, tgtLen, t) = Data.Batching.PadTokens(wrapped, Enumerable.Range(0, wrapped.Count).ToArray(), 0);
        return new TranslationBatch { Source = src, SourceLengths = srcLen, SourceSteps = s, Target = tgt, TargetLengths = tgtLen, TargetSteps = t };
    }
}

/// <summary>
/// Many-to-many, unaligned: an encoder–decoder with Luong's global attention ("general" score, applied after the
/// decoder RNN, as in Luong et al. 2015 without input feeding).
/// <code>
/// E = encoder(source)                                  (B, S, De), final states -> bridge -> decoder h0
/// H = decoder(embed(target[:-1]), h0)                   (B, T, Hd)   teacher forcing: one call for all steps
/// score[t, s] = H[t] . (W_a E[s])     a = softmax over the valid source steps
/// c[t] = sum_s a[t, s] E[s]           h~[t] = tanh(W_c [c[t]; H[t]])      p(y_t) = softmax(W_o h~[t])
/// </code>
/// Training uses teacher forcing, optionally with scheduled sampling in its parallel two-pass form (Duckworth et al.
/// 2019; Mihaylova and Martins 2019): a first pass without gradients predicts every step, then each decoder input
/// is replaced by that prediction with probability <see cref="ScheduledSamplingRatio"/> before the training pass.
/// Decoding (<see cref="GreedyDecoder"/>, <see cref="BeamSearch"/>) drives the step that <see cref="StartDecoding(int[])"/>
/// returns; it stops at &lt;eos&gt; or a maximum length.
/// </summary>
public sealed class Seq2Seq : Module, ITrainable<TranslationBatch>
{
    private readonly Linear bridge, combine, output;
    private readonly LuongAttention attention;
    private readonly Embedding targetEmbedding;
    private readonly Dropout dropout;
    private readonly CrossEntropyLoss loss = new(-100);
    private readonly Rng samplingRng;

    /// <summary>Creates the model.</summary>
    public Seq2Seq(Seq2SeqConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Encoder.VocabularySize is null) throw new ArgumentException("the encoder reads source tokens: set Encoder.VocabularySize", nameof(config));
        if (config.TargetVocabulary < 4) throw new ArgumentOutOfRangeException(nameof(config), config.TargetVocabulary, "TargetVocabulary must be >= 4");
        Config = config;
        Encoder = AddModule("encoder", new SequenceEncoder(config.Encoder, rng));
        int de = Encoder.OutputSize, hd = config.DecoderHidden;
        bridge = AddModule("bridge", new Linear(de, hd, rng: rng.Split()));
        targetEmbedding = AddModule("target_embedding", new Embedding(config.TargetVocabulary, config.DecoderEmbedding, paddingIndex: 0, rng: rng.Split()));
        Decoder = AddModule("decoder", new Recurrent(config.DecoderCell, config.DecoderEmbedding, hd, config.DecoderLayers, batchFirst: true,
            dropout: config.DecoderLayers > 1 ? config.Dropout : 0f, rng: rng.Split()));
        attention = AddModule("attention", new LuongAttention(de, hd, rng.Split()));
        combine = AddModule("combine", new Linear(de + hd, hd, rng: rng.Split()));
        output = AddModule("output", new Linear(hd, config.TargetVocabulary, rng: rng.Split()));
        dropout = AddModule("dropout", new Dropout(config.Dropout, rng.Split()));
        samplingRng = AddRng("sampling_rng", rng.Split());
    }

    /// <summary>The configuration.</summary>
    public Seq2SeqConfig Config { get; }
    /// <summary>The source encoder.</summary>
    public SequenceEncoder Encoder { get; }
    /// <summary>The decoder RNN.</summary>
    public Recurrent Decoder { get; }
    /// <summary>Probability of feeding the model's own prediction instead of the gold previous token (training).</summary>
    public float ScheduledSamplingRatio
    {
        get;
        set => field = value is >= 0f and <= 1f ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "ratio must be in [0, 1]");
    }
    Module ITrainable<TranslationBatch>.Model => this;

    // ------------------------------------------------------------------ training

    /// <inheritdoc/>
    public BatchLoss Step(TranslationBatch batch, bool backward) => Step(batch, backward, null);

    /// <summary>
    /// One training (or evaluation) step; with <paramref name="backward"/> and <paramref name="gradientFlow"/>, the backward pass also reports
    /// ||dL/dh_t|| per layer, direction and time step of the encoder's recurrent stack (<see cref="Encoder"/>; the decoder's
    /// flow is not reported: every layer index the observer receives is an encoder layer) to <paramref name="gradientFlow"/>.
    /// </summary>
    public BatchLoss Step(TranslationBatch batch, bool backward, IGradientFlowObserver? gradientFlow)
    {
        int b = batch.Batch, t = batch.TargetSteps - 1, v = Config.TargetVocabulary;
        // Decoder inputs: target[:, :-1]; targets: target[:, 1:] with padding ignored.
        var inputs = new int[b * t];
        var targets = new int[b * t];
        var lengths = new int[b];
        for (int i = 0; i < b; i++)
        {
            lengths[i] = batch.TargetLengths[i] - 1;
            for (int s = 0; s < t; s++)
            {
                inputs[i * t + s] = s < lengths[i] ? batch.Target[i * batch.TargetSteps + s] : 0;
                targets[i * t + s] = s < lengths[i] ? batch.Target[i * batch.TargetSteps + s + 1] : -100;
            }
        }
        if (backward && ScheduledSamplingRatio > 0f) ReplaceWithPredictions(batch, inputs, lengths, t);

        using var pass = Run(batch, inputs, lengths, t, requiresGrad: backward);
        var logits = output.Forward(pass.Dropped.Output);
        var dLogits = backward ? new Tensor(b * t, v) : null;
        float l = loss.Forward(logits.Output.Reshape(b * t, v), targets, dLogits);
        if (backward) pass.Backward(logits.Backward(dLogits!.Reshape(b, t, v)), gradientFlow);
        return new BatchLoss(l, targets.Count(x => x >= 0));
    }

    /// <summary>Scheduled sampling, parallel form: first-pass greedy predictions replace gold inputs at random.</summary>
    private void ReplaceWithPredictions(TranslationBatch batch, int[] inputs, int[] lengths, int t)
    {
        int[] predicted;
        using (EvaluationMode())
        using (var first = Run(batch, inputs, lengths, t, requiresGrad: false))
        {
            var logits = output.Forward(first.Dropped.Output).Output;
            predicted = new int[inputs.Length];
            int v = Config.TargetVocabulary;
            for (int i = 0; i < predicted.Length; i++) predicted[i] = TensorPrimitives.IndexOfMax(logits.Span.Slice(i * v, v));
        }
        for (int i = 0; i < lengths.Length; i++)
            for (int s = 1; s < lengths[i]; s++) // the input at step s is the output of step s-1
                if (samplingRng.NextFloat() < ScheduledSamplingRatio) inputs[i * t + s] = predicted[i * t + s - 1];
    }

    /// <summary>The layer results of one teacher-forced pass, each owning what its backward needs.</summary>
    private sealed class Pass : IDisposable
    {
        public required Seq2Seq Model;
        public required SequenceEncoder.Pass Enc;
        public required LinearOutput Bridge;        // (B, Hd)  bridge(pooled final encoder states)
        public required ActivationOutput Bridged;   // (B, Hd)  tanh(bridge(s)), every decoder layer's h0
        public required EmbeddingOutput Embedded;   // (B, T, Ed)
        public required DropoutOutput DecoderInput; // (B, T, Ed) dropout(embedded)
        public required RecurrentOutput Dec;        // (B, T, Hd)
        public required LuongAttentionOutput Attended; // (B, T, De + Hd) [c; h]
        public required LinearOutput Combined;      // (B, T, Hd) combine([c; h])
        public required ActivationOutput Tilde;     // (B, T, Hd) tanh(combine([c; h]))
        public required DropoutOutput Dropped;      // (B, T, Hd) dropout(tilde)

        /// <summary>Backward from dL/d dropped, in the reverse order of <see cref="Run"/>; the encoder's flow goes to <paramref name="gradientFlow"/>.</summary>
        public void Backward(Tensor dDropped, IGradientFlowObserver? gradientFlow)
        {
            int b = Enc.Rnn.HiddenState.Dim(1), hd = Model.Config.DecoderHidden;
            var dJoined = Combined.Backward(Tilde.Backward(Dropped.Backward(dDropped)));
            var (dE, dH) = Attended.Backward(dJoined);
            var decGrads = Dec.Backward(dH);
            Embedded.Backward(DecoderInput.Backward(decGrads.Input));
            // h0 of every decoder layer is the same bridged vector.
            var dBridged = new Tensor(b, hd);
            for (int l = 0; l < Model.Config.DecoderLayers; l++)
                TensorPrimitives.Add(dBridged.Span, decGrads.HiddenState.Span.Slice(l * b * hd, b * hd), dBridged.Span);
            var dStates = Bridge.Backward(Bridged.Backward(dBridged));
            Enc.Backward(dE, Model.ScatterTopStates(Enc.Rnn, dStates, b), gradientFlow: gradientFlow);
        }

        public void Dispose()
        {
            Dec.Dispose();
            Enc.Dispose();
        }
    }

    private Pass Run(TranslationBatch batch, int[] inputs, int[] lengths, int t, bool requiresGrad)
    {
        int b = batch.Batch;
        var enc = Encoder.Forward(new SequenceBatch { Tokens = batch.Source, Lengths = batch.SourceLengths, Steps = batch.SourceSteps }, requiresGrad: requiresGrad);
        try
        {
            var bridgeOut = bridge.Forward(TopStates(enc.Rnn, b));
            var bridged = Activations.Tanh(bridgeOut.Output);
            var h0 = Repeat(bridged.Output, Config.DecoderLayers);
            var embedded = targetEmbedding.Forward(inputs, [b, t]);
            var decIn = dropout.Forward(embedded.Output);
            var dec = Decoder.Forward(decIn.Output, lengths, h0, requiresGrad: requiresGrad);
            var attended = attention.Forward(enc.Rnn.Output, batch.SourceLengths, dec.Output);
            var combined = combine.Forward(attended.Output);
            var tilde = Activations.Tanh(combined.Output);
            return new Pass
            {
                Model = this, Enc = enc, Bridge = bridgeOut, Bridged = bridged, Embedded = embedded, DecoderInput = decIn, Dec = dec,
                Attended = attended, Combined = combined, Tilde = tilde, Dropped = dropout.Forward(tilde.Output),
            };
        }
        catch
        {
            enc.Dispose();
            throw;
        }
    }

    /// <summary>The encoder's top-layer final states, directions concatenated: (B, D*He).</summary>
    private Tensor TopStates(RecurrentOutput r, int b)
    {
        int d = Encoder.Rnn.Directions, he = Encoder.Rnn.StateSize, top = (Encoder.Rnn.NumLayers - 1) * d;
        var result = new Tensor(b, d * he);
        for (int i = 0; i < b; i++)
            for (int k = 0; k < d; k++)
                r.HiddenState.Span.Slice(((top + k) * b + i) * he, he).CopyTo(result.Span.Slice(i * d * he + k * he, he));
        return result;
    }

    private Tensor ScatterTopStates(RecurrentOutput r, Tensor dStates, int b)
    {
        int d = Encoder.Rnn.Directions, he = Encoder.Rnn.StateSize, top = (Encoder.Rnn.NumLayers - 1) * d;
        var dHidden = new Tensor(r.HiddenState.Shape.ToArray());
        for (int i = 0; i < b; i++)
            for (int k = 0; k < d; k++)
                dStates.Span.Slice(i * d * he + k * he, he).CopyTo(dHidden.Span.Slice(((top + k) * b + i) * he, he));
        return dHidden;
    }

    private static Tensor Repeat(Tensor x, int layers)
    {
        var r = new Tensor(layers, x.Dim(0), x.Dim(1));
        for (int l = 0; l < layers; l++) x.Span.CopyTo(r.Span.Slice(l * x.Length, x.Length));
        return r;
    }

    // ------------------------------------------------------------------ decoding

    /// <summary>
    /// Encodes <paramref name="source"/> and returns the decoder's step over it, with the initial state; the step
    /// gives log-probabilities, as <see cref="BeamSearch"/> needs, and runs in evaluation mode.
    /// </summary>
    public (ITokenStepper Decoder, RecurrentState Start) StartDecoding(int[] source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Length == 0) throw new ArgumentException("the source needs at least one token", nameof(source));
        var (batch, start) = StartDecoding([source]);
        return (new SingleSource(batch), start);
    }

    /// <summary>
    /// Encodes <paramref name="sources"/> in one batch and returns the decoder's step over them, with one initial
    /// state per source, (L, N, Hd); the step gives log-probabilities and runs in evaluation mode. Each hypothesis
    /// attends to the source it belongs to.
    /// </summary>
    public (IBatchTokenStepper Decoder, RecurrentState Start) StartDecoding(IReadOnlyList<int[]> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count == 0) throw new ArgumentException("at least one source is needed", nameof(sources));
        for (int i = 0; i < sources.Count; i++)
            if (sources[i] is null || sources[i].Length == 0) throw new ArgumentException($"sources[{i}] needs at least one token", nameof(sources));
        using var mode = EvaluationMode();
        int n = sources.Count;
        var (ids, lengths, steps) = Data.Batching.PadTokens(sources, Enumerable.Range(0, n).ToArray(), 0);
        using var enc = Encoder.Forward(new SequenceBatch { Tokens = ids, Lengths = lengths, Steps = steps }, requiresGrad: false);
        var bridged = Activations.Tanh(bridge.Forward(TopStates(enc.Rnn, n)).Output).Output;
        var h0 = Repeat(bridged, Config.DecoderLayers);
        var memory = attention.Prepare(enc.Rnn.Output.Clone(), lengths);
        return (new Stepper(this, memory), RecurrentState.From(h0, Config.DecoderCell == RecurrentMode.Lstm ? new Tensor(h0.Shape.ToArray()) : null));
    }

    /// <summary>The batch step over one source, as an <see cref="ITokenStepper"/>.</summary>
    private sealed class SingleSource(IBatchTokenStepper batch) : ITokenStepper
    {
        private int[] zeros = [];
        public int VocabularySize => batch.VocabularySize;
        public (float[] Scores, RecurrentState State) Step(int[] tokens, RecurrentState state)
        {
            if (zeros.Length != tokens.Length) zeros = new int[tokens.Length];
            return batch.Step(tokens, zeros, state);
        }
    }

    /// <summary>One decoder step over encoded sources, for any number of hypotheses of any of them.</summary>
    private sealed class Stepper(Seq2Seq model, AttentionMemory sources) : IBatchTokenStepper
    {
        private AttentionMemory? selected;
        private int[] selectedRows = [];

        public int VocabularySize => model.Config.TargetVocabulary;
        public int Inputs => sources.Batch;

        /// <summary>Log-probabilities of the next token for each of <paramref name="tokens"/> (one per hypothesis) and the new states.</summary>
        public (float[] Scores, RecurrentState State) Step(int[] tokens, int[] inputs, RecurrentState state)
        {
            ArgumentNullException.ThrowIfNull(tokens);
            ArgumentNullException.ThrowIfNull(inputs);
            ArgumentNullException.ThrowIfNull(state);
            int w = tokens.Length, v = VocabularySize;
            if (inputs.Length != w) throw new ArgumentException($"inputs needs one entry per token (expected {w}, got {inputs.Length})", nameof(inputs));
            using var mode = model.EvaluationMode();
            var emb = model.targetEmbedding.Forward(tokens, [w, 1]).Output;
            using var dec = model.Decoder.Forward(emb, null, state.Hidden, state.Cell, requiresGrad: false);
            // Each hypothesis attends to its own source: the memory rows are picked once per change of the layout.
            if (selected is null || !selectedRows.AsSpan().SequenceEqual(inputs))
            {
                selectedRows = (int[])inputs.Clone();
                selected = sources.Select(selectedRows);
            }
            var joined = model.attention.Forward(selected, dec.Output).Output;
            var logits = model.output.Forward(Activations.Tanh(model.combine.Forward(joined).Output).Output).Output.ToArray();
            for (int i = 0; i < w; i++)
            {
                var row = logits.AsSpan(i * v, v);
                float max = TensorPrimitives.Max(row);
                double sum = 0;
                foreach (float x in row) sum += Math.Exp(x - max);
                float lse = max + (float)Math.Log(sum);
                TensorPrimitives.Subtract(row, lse, row);
            }
            return (logits, RecurrentState.Detach(dec));
        }
    }

    /// <summary>
    /// Greedy decoding: the most likely token at each step, until &lt;eos&gt; or <paramref name="maxLength"/> tokens.
    /// Shorthand for <see cref="GreedyDecoder.Decode"/> over <see cref="StartDecoding(int[])"/>.
    /// </summary>
    public int[] Greedy(int[] source, int maxLength, int noRepeatNgram = 0)
    {
        var (decoder, start) = StartDecoding(source);
        return GreedyDecoder.Decode(decoder, start, Config.BosId, Config.EosId, maxLength, noRepeatNgram);
    }

    /// <summary>
    /// Beam search with <paramref name="beamWidth"/> hypotheses and length normalisation (see <see cref="BeamSearch"/>).
    /// Shorthand for <see cref="BeamSearch.Decode"/> over <see cref="StartDecoding(int[])"/>.
    /// </summary>
    public int[] Beam(int[] source, int maxLength, int beamWidth = 5, float lengthPenalty = 1f)
    {
        if (beamWidth < 1) throw new ArgumentOutOfRangeException(nameof(beamWidth), beamWidth, "beamWidth must be >= 1");
        var (decoder, start) = StartDecoding(source);
        return new BeamSearch(beamWidth, lengthPenalty).Decode(decoder, start, Config.BosId, Config.EosId, maxLength);
    }

    /// <summary>
    /// Decodes many sources together, <paramref name="batchSize"/> at a time (one encoder call and one decoder call per
    /// step for each batch): beam search with <paramref name="search"/>, or greedy decoding when it is null (then
    /// <paramref name="noRepeatNgram"/> blocks repeated n-grams; a beam search carries its own). Results are in the
    /// order of <paramref name="sources"/>. <paramref name="progress"/>, if given, receives the count decoded so far.
    /// </summary>
    public Decoded[] DecodeMany(IReadOnlyList<int[]> sources, int maxLength, BeamSearch? search = null, int noRepeatNgram = 0,
        int batchSize = 64, Action<int>? progress = null) =>
        DecodeMany(sources, maxLength, search, noRepeatNgram, batchSize, progress, CancellationToken.None);

    /// <summary>
    /// <see cref="DecodeMany(IReadOnlyList{int[]}, int, BeamSearch?, int, int, Action{int}?)"/>, checking
    /// <paramref name="cancellationToken"/> once per output step (a server stops the work of a client that went away).
    /// </summary>
    /// <exception cref="OperationCanceledException">The token was cancelled before every source was decoded.</exception>
    public Decoded[] DecodeMany(IReadOnlyList<int[]> sources, int maxLength, BeamSearch? search, int noRepeatNgram,
        int batchSize, Action<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sources);
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be >= 1");
        var result = new Decoded[sources.Count];
        // Sources of similar length together, so that little of each encoder batch is padding.
        int[] order = [.. Enumerable.Range(0, sources.Count).OrderBy(i => sources[i]?.Length ?? 0)];
        int done = 0;
        foreach (var chunk in order.Chunk(batchSize))
        {
            var (decoder, start) = StartDecoding(chunk.Select(i => sources[i]).ToList());
            var decoded = search is null
                ? GreedyDecoder.DecodeBatch(decoder, start, Config.BosId, Config.EosId, maxLength, noRepeatNgram, cancellationToken)
                : search.DecodeBatch(decoder, start, Config.BosId, Config.EosId, maxLength, cancellationToken);
            for (int k = 0; k < chunk.Length; k++) result[chunk[k]] = decoded[k];
            done += chunk.Length;
            progress?.Invoke(done);
        }
        return result;
    }
}
