using Recur.Kernels;
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
/// Decoding is greedy or beam search with length normalisation; it stops at &lt;eos&gt; or a maximum length.
/// </summary>
public sealed class Seq2Seq : Module, ITrainable<TranslationBatch>
{
    private readonly Linear bridge, attention, combine, output;
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
        attention = AddModule("attention", new Linear(de, hd, bias: false, rng: rng.Split()));
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
    public BatchLoss Step(TranslationBatch batch, bool backward)
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
        var logits = output.Forward(pass.Dropped).Reshape(b * t, v);
        var dLogits = backward ? new Tensor(b * t, v) : null;
        float l = loss.Forward(logits, targets, dLogits);
        if (backward) Backward(pass, dLogits!.Reshape(b, t, v));
        return new BatchLoss(l, targets.Count(x => x >= 0));
    }

    /// <summary>Scheduled sampling, parallel form: first-pass greedy predictions replace gold inputs at random.</summary>
    private void ReplaceWithPredictions(TranslationBatch batch, int[] inputs, int[] lengths, int t)
    {
        bool was = Training;
        Training = false;
        int[] predicted;
        using (var first = Run(batch, inputs, lengths, t, requiresGrad: false))
        {
            var logits = output.Forward(first.Dropped);
            predicted = new int[inputs.Length];
            int v = Config.TargetVocabulary;
            for (int i = 0; i < predicted.Length; i++) predicted[i] = TensorPrimitives.IndexOfMax(logits.Span.Slice(i * v, v));
        }
        Training = was;
        for (int i = 0; i < lengths.Length; i++)
            for (int s = 1; s < lengths[i]; s++) // the input at step s is the output of step s-1
                if (samplingRng.NextFloat() < ScheduledSamplingRatio) inputs[i * t + s] = predicted[i * t + s - 1];
    }

    /// <summary>Activations of one teacher-forced pass, for backward.</summary>
    private sealed class Pass : IDisposable
    {
        public required SequenceEncoder.Pass Enc;
        public required RecurrentOutput Dec;
        public required Tensor EncoderStates;   // (B, De)  pooled final states that feed the bridge
        public required Tensor Bridged;         // (B, Hd)  tanh(bridge(s))
        public required Tensor Keys;            // (B, S, Hd) W_a E
        public required float[] Weights;        // (B, T, S) attention
        public required Tensor Joined;          // (B, T, De + Hd) [c; h]
        public required Tensor Tilde;           // (B, T, Hd) tanh(combine(joined))
        public required Tensor Dropped;         // (B, T, Hd) dropout(tilde)
        public required Tensor? DropMask;
        public required Tensor? EmbedMask;
        public required Tensor Embedded;
        public required int[] Inputs;
        public required int[] SourceLengths;
        public void Dispose()
        {
            Dec.Dispose();
            Enc.Dispose();
        }
    }

    private Pass Run(TranslationBatch batch, int[] inputs, int[] lengths, int t, bool requiresGrad)
    {
        int b = batch.Batch, s = batch.SourceSteps, de = Encoder.OutputSize, hd = Config.DecoderHidden;
        var enc = Encoder.Forward(new SequenceBatch { Tokens = batch.Source, Lengths = batch.SourceLengths, Steps = s }, requiresGrad: requiresGrad);
        try
        {
            var states = TopStates(enc.Rnn, b);
            var bridged = Activations.Tanh(bridge.Forward(states));
            var h0 = Repeat(bridged, Config.DecoderLayers);
            var embedded = targetEmbedding.Forward(inputs, [b, t]);
            var (decIn, embedMask) = dropout.Forward(embedded);
            var dec = Decoder.Forward(decIn, lengths, h0, requiresGrad: requiresGrad);
            var keys = attention.Forward(enc.Rnn.Output);                 // (B, S, Hd)
            var weights = new float[b * t * s];
            var joined = new Tensor(b, t, de + hd);
            Attend(enc.Rnn.Output.Span, keys.Span, dec.Output.Span, batch.SourceLengths, b, t, s, de, hd, weights, joined.Span);
            var tilde = Activations.Tanh(combine.Forward(joined));
            var (dropped, mask) = dropout.Forward(tilde);
            return new Pass
            {
                Enc = enc, Dec = dec, EncoderStates = states, Bridged = bridged, Keys = keys, Weights = weights, Joined = joined,
                Tilde = tilde, Dropped = dropped, DropMask = mask, EmbedMask = embedMask, Embedded = embedded, Inputs = inputs,
                SourceLengths = batch.SourceLengths,
            };
        }
        catch
        {
            enc.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Luong attention for every (b, t): scores over the valid source steps, softmax, context; writes the weights and
    /// [context; h] rows. A source of length 0 gets a zero context.
    /// </summary>
    private static void Attend(ReadOnlySpan<float> e, ReadOnlySpan<float> keys, ReadOnlySpan<float> h, int[] srcLen, int b, int t, int s,
        int de, int hd, Span<float> weights, Span<float> joined)
    {
        for (int i = 0; i < b; i++)
        {
            int n = srcLen[i];
            for (int q = 0; q < t; q++)
            {
                var hq = h.Slice((i * t + q) * hd, hd);
                var w = weights.Slice((i * t + q) * s, s);
                var row = joined.Slice((i * t + q) * (de + hd), de + hd);
                row.Clear();
                if (n > 0)
                {
                    for (int k = 0; k < n; k++) w[k] = TensorPrimitives.Dot(hq, keys.Slice((i * s + k) * hd, hd));
                    Activations.SoftmaxRow(w[..n], w[..n]);
                    var ctx = row[..de];
                    for (int k = 0; k < n; k++)
                        TensorPrimitives.MultiplyAdd(e.Slice((i * s + k) * de, de), w[k], ctx, ctx);
                }
                hq.CopyTo(row[de..]);
            }
        }
    }

    private void Backward(Pass p, Tensor dLogits)
    {
        int b = p.SourceLengths.Length, t = dLogits.Dim(1), s = p.Keys.Dim(1), de = Encoder.OutputSize, hd = Config.DecoderHidden;
        var dDropped = output.Backward(p.Dropped, dLogits)!;
        var dTilde = Activations.TanhBackward(p.Tilde, Dropout.Backward(p.DropMask, dDropped));
        var dJoined = combine.Backward(p.Joined, dTilde)!.Span;
        var e = p.Enc.Rnn.Output.Span;
        var h = p.Dec.Output.Span;
        var keys = p.Keys.Span;
        var dE = new Tensor(b, s, de);
        var dKeys = new Tensor(b, s, hd);
        var dH = new Tensor(b, t, hd);
        var de_ = dE.Span;
        var dk = dKeys.Span;
        var dh = dH.Span;
        var dw = new float[s];
        for (int i = 0; i < b; i++)
        {
            int n = p.SourceLengths[i];
            for (int q = 0; q < t; q++)
            {
                var row = dJoined.Slice((i * t + q) * (de + hd), de + hd);
                var dhq = dh.Slice((i * t + q) * hd, hd);
                TensorPrimitives.Add(dhq, row[de..], dhq);              // h reaches the output directly through [c; h]
                if (n == 0) continue;
                var dctx = row[..de];
                var w = p.Weights.AsSpan((i * t + q) * s, s);
                // c = sum_k w_k E_k: dE_k += w_k dc, dw_k = E_k . dc
                for (int k = 0; k < n; k++)
                {
                    var ek = e.Slice((i * s + k) * de, de);
                    dw[k] = TensorPrimitives.Dot(ek, dctx);
                    var dek = de_.Slice((i * s + k) * de, de);
                    TensorPrimitives.MultiplyAdd(dctx, w[k], dek, dek);
                }
                // softmax: dscore_k = w_k (dw_k - sum_j w_j dw_j)
                float dot = TensorPrimitives.Dot(w[..n], dw.AsSpan(0, n));
                var hq = h.Slice((i * t + q) * hd, hd);
                for (int k = 0; k < n; k++)
                {
                    float ds = w[k] * (dw[k] - dot);
                    // score_k = h . key_k: dh += ds key_k, dkey_k += ds h
                    TensorPrimitives.MultiplyAdd(keys.Slice((i * s + k) * hd, hd), ds, dhq, dhq);
                    var dkk = dk.Slice((i * s + k) * hd, hd);
                    TensorPrimitives.MultiplyAdd(hq, ds, dkk, dkk);
                }
            }
        }
        var dEFromKeys = attention.Backward(p.Enc.Rnn.Output, dKeys)!;
        TensorPrimitives.Add(de_, dEFromKeys.Span, de_);

        var decGrads = p.Dec.Backward(dH);
        var dEmb = Dropout.Backward(p.EmbedMask, decGrads.Input);
        targetEmbedding.Backward(p.Inputs, dEmb);
        // h0 of every decoder layer is the same bridged vector.
        var dBridged = new Tensor(b, hd);
        for (int l = 0; l < Config.DecoderLayers; l++)
            TensorPrimitives.Add(dBridged.Span, decGrads.HiddenState.Span.Slice(l * b * hd, b * hd), dBridged.Span);
        var dStates = bridge.Backward(p.EncoderStates, Activations.TanhBackward(p.Bridged, dBridged))!;
        Encoder.Backward(p.Enc, dE, ScatterTopStates(p.Enc.Rnn, dStates, b));
    }

    /// <summary>The encoder's top-layer final states, directions concatenated: (B, D*He).</summary>
    private Tensor TopStates(RecurrentOutput r, int b)
    {
        int d = Encoder.Rnn.Directions, he = Encoder.Rnn.HiddenSize, top = (Encoder.Rnn.NumLayers - 1) * d;
        var result = new Tensor(b, d * he);
        for (int i = 0; i < b; i++)
            for (int k = 0; k < d; k++)
                r.HiddenState.Span.Slice(((top + k) * b + i) * he, he).CopyTo(result.Span.Slice(i * d * he + k * he, he));
        return result;
    }

    private Tensor ScatterTopStates(RecurrentOutput r, Tensor dStates, int b)
    {
        int d = Encoder.Rnn.Directions, he = Encoder.Rnn.HiddenSize, top = (Encoder.Rnn.NumLayers - 1) * d;
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

    /// <summary>The encoded source, reused at every decoding step.</summary>
    private sealed class Encoded
    {
        public required float[] States;   // (S, De)
        public required float[] Keys;     // (S, Hd)
        public required int Length;
        public required Tensor H0;        // (Ld, 1, Hd)
    }

    private Encoded Encode(int[] source)
    {
        if (source.Length == 0) throw new ArgumentException("the source needs at least one token", nameof(source));
        using var enc = Encoder.Forward(new SequenceBatch { Tokens = source, Lengths = [source.Length], Steps = source.Length }, requiresGrad: false);
        var states = TopStates(enc.Rnn, 1);
        var bridged = Activations.Tanh(bridge.Forward(states));
        return new Encoded
        {
            States = enc.Rnn.Output.ToArray(),
            Keys = attention.Forward(enc.Rnn.Output).ToArray(),
            Length = source.Length,
            H0 = Repeat(bridged, Config.DecoderLayers),
        };
    }

    /// <summary>Log-probabilities of the next token for each of <paramref name="tokens"/> (one per beam) and the new states.</summary>
    private (float[] LogProbs, RecurrentState State) DecodeStep(Encoded src, int[] tokens, RecurrentState state)
    {
        int w = tokens.Length, de = Encoder.OutputSize, hd = Config.DecoderHidden, v = Config.TargetVocabulary;
        var emb = targetEmbedding.Forward(tokens, [w, 1]);
        using var dec = Decoder.Forward(emb, null, state.Hidden, state.Cell, requiresGrad: false);
        var joined = new Tensor(w, 1, de + hd);
        var weights = new float[w * src.Length];
        // Each beam attends to the same source: run Attend with a batch of w copies of it.
        var e = new float[w * src.Length * de];
        var k = new float[w * src.Length * hd];
        for (int i = 0; i < w; i++)
        {
            src.States.CopyTo(e, i * src.Length * de);
            src.Keys.CopyTo(k, i * src.Length * hd);
        }
        Attend(e, k, dec.Output.Span, Enumerable.Repeat(src.Length, w).ToArray(), w, 1, src.Length, de, hd, weights, joined.Span);
        var logits = output.Forward(Activations.Tanh(combine.Forward(joined))).ToArray();
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

    /// <summary>Greedy decoding: the most likely token at each step, until &lt;eos&gt; or <paramref name="maxLength"/> tokens.</summary>
    public int[] Greedy(int[] source, int maxLength)
    {
        bool was = Training;
        Training = false;
        try
        {
            var src = Encode(source);
            var state = RecurrentState.From(src.H0, Config.DecoderCell == RecurrentMode.Lstm ? new Tensor(src.H0.Shape.ToArray()) : null);
            var result = new List<int>();
            int token = Config.BosId;
            for (int step = 0; step < maxLength; step++)
            {
                var (lp, next) = DecodeStep(src, [token], state);
                state = next;
                token = TensorPrimitives.IndexOfMax(lp);
                if (token == Config.EosId) break;
                result.Add(token);
            }
            return [.. result];
        }
        finally { Training = was; }
    }

    /// <summary>
    /// Beam search with <paramref name="beamWidth"/> hypotheses: at each step the best <paramref name="beamWidth"/>
    /// one-token expansions of the live hypotheses survive, and those ending in &lt;eos&gt; leave the beam as finished.
    /// Finished hypotheses (and, at the length limit, the live ones) are ranked by
    /// log-probability / length^<paramref name="lengthPenalty"/> (length counts the &lt;eos&gt;): 0 ranks by raw
    /// log-probability, 1 by the mean per token.
    /// </summary>
    public int[] Beam(int[] source, int maxLength, int beamWidth = 5, float lengthPenalty = 1f)
    {
        if (beamWidth < 1) throw new ArgumentOutOfRangeException(nameof(beamWidth), beamWidth, "beamWidth must be >= 1");
        bool was = Training;
        Training = false;
        try
        {
            var src = Encode(source);
            int v = Config.TargetVocabulary, hd = Config.DecoderHidden, layers = Config.DecoderLayers;
            bool lstm = Config.DecoderCell == RecurrentMode.Lstm;
            var beams = new List<(List<int> Tokens, double LogProb)> { ([], 0.0) };
            var state = RecurrentState.From(src.H0, lstm ? new Tensor(src.H0.Shape.ToArray()) : null);
            var finished = new List<(List<int> Tokens, double Score)>();
            double Norm(double logProb, int length) => lengthPenalty == 0f ? logProb : logProb / Math.Pow(Math.Max(1, length), lengthPenalty);
            for (int step = 0; step < maxLength && beams.Count > 0; step++)
            {
                int[] last = beams.Select(b => b.Tokens.Count == 0 ? Config.BosId : b.Tokens[^1]).ToArray();
                var (lp, next) = DecodeStep(src, last, state);
                var candidates = new List<(int Beam, int Token, double LogProb)>();
                for (int i = 0; i < beams.Count; i++)
                {
                    var row = lp.AsSpan(i * v, v);
                    // Only the best beamWidth continuations of each beam can survive.
                    foreach (int tok in TopK(row, beamWidth + 1)) candidates.Add((i, tok, beams[i].LogProb + row[tok]));
                }
                candidates.Sort((a, b) => b.LogProb.CompareTo(a.LogProb));
                // The best beamWidth expansions survive; those that end in <eos> leave the beam as finished hypotheses,
                // so the beam shrinks as hypotheses finish.
                var survivors = new List<(int Beam, int Token, double LogProb)>();
                foreach (var c in candidates.Take(beamWidth))
                {
                    if (c.Token == Config.EosId) finished.Add((beams[c.Beam].Tokens, Norm(c.LogProb, beams[c.Beam].Tokens.Count + 1)));
                    else survivors.Add(c);
                }
                if (survivors.Count == 0) { beams.Clear(); break; }
                // Gather the surviving beams' states.
                var h = new Tensor(layers, survivors.Count, hd);
                var c2 = lstm ? new Tensor(layers, survivors.Count, hd) : null;
                for (int j = 0; j < survivors.Count; j++)
                    for (int l = 0; l < layers; l++)
                    {
                        next.Hidden.Span.Slice((l * beams.Count + survivors[j].Beam) * hd, hd).CopyTo(h.Span.Slice((l * survivors.Count + j) * hd, hd));
                        if (c2 is not null) next.Cell!.Span.Slice((l * beams.Count + survivors[j].Beam) * hd, hd).CopyTo(c2.Span.Slice((l * survivors.Count + j) * hd, hd));
                    }
                beams = survivors.Select(s => (new List<int>(beams[s.Beam].Tokens) { s.Token }, s.LogProb)).ToList();
                state = RecurrentState.From(h, c2);
            }
            foreach (var b in beams) finished.Add((b.Tokens, Norm(b.LogProb, b.Tokens.Count)));
            return [.. finished.OrderByDescending(f => f.Score).First().Tokens];
        }
        finally { Training = was; }
    }

    private static int[] TopK(ReadOnlySpan<float> row, int k)
    {
        k = Math.Min(k, row.Length);
        var idx = new int[k];
        var val = new float[k];
        Array.Fill(val, float.NegativeInfinity);
        for (int i = 0; i < row.Length; i++)
        {
            if (row[i] <= val[k - 1]) continue;
            int j = k - 1;
            while (j > 0 && val[j - 1] < row[i]) { val[j] = val[j - 1]; idx[j] = idx[j - 1]; j--; }
            val[j] = row[i];
            idx[j] = i;
        }
        return idx;
    }
}
