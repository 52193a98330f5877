using System.Text.Json.Serialization;
using Recur.Models.Decoding;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of a <see cref="LanguageModel"/>.</summary>
public sealed record LanguageModelConfig
{
    /// <summary>The trunk: token input (VocabularySize), unidirectional.</summary>
    public required EncoderConfig Encoder { get; init; }

    /// <summary>
    /// Weight tying (Press &amp; Wolf 2017; Inan et al. 2017): the output layer's weight is the input embedding matrix
    /// (V, E), so logits = h E^T + b. Needs <see cref="EncoderConfig.EmbeddingDim"/> equal to the last layer's output
    /// size. The shared matrix starts from the output layer's initialisation, U(-1/sqrt(E), 1/sqrt(E)).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool TieEmbeddings { get; init; }
}

/// <summary>
/// One chunk of a token stream cut into B parallel streams: inputs (B*T, batch-first) and the next tokens as targets.
/// </summary>
public sealed class StreamChunk
{
    /// <summary>Input ids (B*T).</summary>
    public required int[] Inputs { get; init; }
    /// <summary>Target ids (B*T): each input's next token.</summary>
    public required int[] Targets { get; init; }
    /// <summary>Parallel streams (B).</summary>
    public required int Batch { get; init; }
    /// <summary>Steps in this chunk (T).</summary>
    public required int Steps { get; init; }
    /// <summary>The first chunk of the streams: start from a zero state.</summary>
    public required bool First { get; init; }
}

/// <summary>
/// Cuts a token stream into B contiguous parallel streams and yields consecutive chunks of T steps, for truncated
/// backpropagation through time: the state is carried from chunk to chunk, gradients stop at chunk borders.
/// </summary>
public sealed class TbpttStream
{
    private readonly int[] tokens;

    /// <summary>Creates the stream; the tail that does not fill B streams equally is dropped.</summary>
    public TbpttStream(int[] tokens, int batch, int steps)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be >= 1");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be >= 1");
        this.tokens = tokens;
        Batch = batch;
        Steps = steps;
        StreamLength = (tokens.Length - 1) / batch;
        if (StreamLength < 1)
            throw new ArgumentException($"the token stream ({tokens.Length} tokens) is too short for {batch} parallel streams", nameof(tokens));
    }

    /// <summary>
    /// A stream for evaluation: at most <paramref name="maxBatch"/> parallel streams, fewer when the text is short, so
    /// that each stream spans at least four chunks (a stream only a few steps long would be scored mostly from a cold state).
    /// </summary>
    public static TbpttStream ForEvaluation(int[] tokens, int maxBatch, int steps)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be >= 1");
        return new TbpttStream(tokens, Math.Max(1, Math.Min(maxBatch, (tokens.Length - 1) / (steps * 4))), steps);
    }

    /// <summary>Parallel streams.</summary>
    public int Batch { get; }
    /// <summary>Steps per chunk.</summary>
    public int Steps { get; }
    /// <summary>Tokens per stream (each predicting the next).</summary>
    public int StreamLength { get; }
    /// <summary>Chunks in one pass.</summary>
    public int Chunks => (StreamLength + Steps - 1) / Steps;
    /// <summary>Predicted tokens in one pass.</summary>
    public long Tokens => (long)StreamLength * Batch;

    /// <summary>Tokens whose prediction the B streams leave out: those after the last stream's end (fewer than B).</summary>
    public int TailTokens => tokens.Length - 1 - StreamLength * Batch;

    /// <summary>
    /// The stretch after the last stream as one chunk of a single stream (null when there is none): it continues the
    /// last stream exactly, so scoring it from that stream's final state covers every token of the text but the first.
    /// </summary>
    public StreamChunk? Tail()
    {
        int n = TailTokens;
        if (n <= 0) return null;
        int start = StreamLength * Batch;
        return new StreamChunk { Inputs = tokens[start..(start + n)], Targets = tokens[(start + 1)..(start + 1 + n)], Batch = 1, Steps = n, First = false };
    }

    /// <summary>The chunks in order; the last may be shorter.</summary>
    public IEnumerable<StreamChunk> Enumerate()
    {
        for (int start = 0; start < StreamLength; start += Steps)
        {
            int t = Math.Min(Steps, StreamLength - start);
            var x = new int[Batch * t];
            var y = new int[Batch * t];
            for (int b = 0; b < Batch; b++)
            {
                int offset = b * StreamLength + start;
                Array.Copy(tokens, offset, x, b * t, t);
                Array.Copy(tokens, offset + 1, y, b * t, t);
            }
            yield return new StreamChunk { Inputs = x, Targets = y, Batch = Batch, Steps = t, First = start == 0 };
        }
    }
}

/// <summary>
/// Next-token prediction at character or word level: embedding, a unidirectional recurrent stack, dropout and a
/// linear layer over the vocabulary. Trained statefully over a long stream with truncated BPTT
/// (<see cref="TbpttStream"/>): the state carried between chunks is a detached <see cref="RecurrentState"/>.
/// Generates with a seed, temperature, top-k and top-p.
/// </summary>
public sealed class LanguageModel : Module, ITrainable<StreamChunk>, ITokenStepper
{
    private readonly Dropout outputDropout;
    private readonly CrossEntropyLoss loss = new();
    private RecurrentState? carried;

    /// <summary>Creates the model.</summary>
    public LanguageModel(LanguageModelConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Encoder.VocabularySize is not { } v) throw new ArgumentException("a language model reads tokens: set Encoder.VocabularySize", nameof(config));
        if (config.Encoder.Bidirectional) throw new ArgumentException("a language model predicts the next token, so it cannot be bidirectional", nameof(config));
        Config = config;
        Encoder = AddModule("encoder", new SequenceEncoder(config.Encoder, rng));
        outputDropout = AddModule("output_dropout", new Dropout(config.Encoder.Dropout, rng.Split()));
        if (!config.TieEmbeddings)
        {
            Head = AddModule("head", new Linear(Encoder.OutputSize, v, rng: rng.Split()));
            return;
        }
        var embedding = Encoder.Embedding!;
        if (embedding.EmbeddingDim != Encoder.OutputSize)
            throw new ArgumentException($"TieEmbeddings needs Encoder.EmbeddingDim equal to the last layer's output size (expected {Encoder.OutputSize}, got {embedding.EmbeddingDim})", nameof(config));
        // The shared matrix plays the output layer's part: it starts as that layer would (PyTorch's Linear
        // initialisation), the padding row at zero as the embedding keeps it.
        var shared = rng.Split();
        float bound = 1f / MathF.Sqrt(embedding.EmbeddingDim);
        shared.FillUniform(embedding.Weight.Value.Span, -bound, bound);
        embedding.Weight.Value.Span[..embedding.EmbeddingDim].Clear();
        Head = AddModule("head", new Linear(embedding.Weight, rng: shared));
    }

    /// <summary>The configuration.</summary>
    public LanguageModelConfig Config { get; }
    /// <summary>The trunk.</summary>
    public SequenceEncoder Encoder { get; }
    /// <summary>The output layer over the vocabulary.</summary>
    public Linear Head { get; }
    /// <summary>Vocabulary size.</summary>
    public int VocabularySize => Config.Encoder.VocabularySize!.Value;
    Module ITrainable<StreamChunk>.Model => this;

    /// <inheritdoc/>
    public void StartEpoch(int epoch) => carried = null;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, Tensor> CaptureState()
    {
        var state = new Dictionary<string, Tensor>();
        if (carried is null) return state;
        state["hidden"] = carried.Hidden.Clone();
        if (carried.Cell is { } c) state["cell"] = c.Clone();
        return state;
    }

    /// <inheritdoc/>
    public void RestoreState(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        carried = state.TryGetValue("hidden", out var h) ? RecurrentState.From(h, state.GetValueOrDefault("cell")) : null;
    }

    /// <inheritdoc/>
    public BatchLoss Step(StreamChunk chunk, bool backward) => Step(chunk, backward, null);

    /// <inheritdoc/>
    public int? ItemCount(StreamChunk chunk) => chunk is null ? null : chunk.Batch * chunk.Steps;

    /// <summary>
    /// One training (or evaluation) step on the next chunk of the stream; with <paramref name="backward"/> and <paramref name="gradientFlow"/>, the backward pass also reports
    /// ||dL/dh_t|| per layer, direction and time step of the encoder's recurrent stack to <paramref name="gradientFlow"/>.
    /// </summary>
    public BatchLoss Step(StreamChunk chunk, bool backward, IGradientFlowObserver? gradientFlow)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        if (chunk.First) carried = null;
        var (l, next) = Run(chunk, carried, backward, gradientFlow);
        carried = next;
        return new BatchLoss(l, chunk.Batch * chunk.Steps);
    }

    /// <summary>One chunk from an explicit state; returns the mean loss and the detached final state.</summary>
    public (float Loss, RecurrentState State) Run(StreamChunk chunk, RecurrentState? state, bool backward) => Run(chunk, state, backward, null);

    private (float Loss, RecurrentState State) Run(StreamChunk chunk, RecurrentState? state, bool backward, IGradientFlowObserver? gradientFlow)
    {
        var batch = new SequenceBatch { Tokens = chunk.Inputs, Lengths = Enumerable.Repeat(chunk.Steps, chunk.Batch).ToArray(), Steps = chunk.Steps };
        using var pass = Encoder.Forward(batch, state?.Hidden, state?.Cell, requiresGrad: backward);
        var dropped = outputDropout.Forward(pass.Rnn.Output);
        var head = Head.Forward(dropped.Output);
        var logits = head.Output.Reshape(chunk.Batch * chunk.Steps, VocabularySize);
        var dLogits = backward ? new Tensor(logits.Shape.ToArray()) : null;
        float l = loss.Forward(logits, chunk.Targets, dLogits);
        if (backward)
        {
            var dOut = head.Backward(dLogits!.Reshape(chunk.Batch, chunk.Steps, VocabularySize));
            // dHidden = null: the gradient stops at this chunk's initial state (truncated BPTT).
            pass.Backward(dropped.Backward(dOut), gradientFlow: gradientFlow);
        }
        return (l, RecurrentState.Detach(pass.Rnn));
    }

    /// <summary>
    /// Mean cross-entropy in nats per token over a stream, carrying the state, in evaluation mode. Every token of the
    /// text but the first is scored: the stretch after the last stream (<see cref="TbpttStream.Tail"/>) continues from
    /// that stream's final state.
    /// </summary>
    public double Evaluate(TbpttStream stream) => Score(stream).NatsPerToken;

    /// <summary>
    /// The mean cross-entropy in nats per token over every token of the stream's text but the first (as
    /// <see cref="Evaluate"/>) and how many tokens were scored.
    /// </summary>
    public (double NatsPerToken, long Tokens) Score(TbpttStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var mode = EvaluationMode();
        RecurrentState? state = null;
        double total = 0;
        long count = 0;
        foreach (var chunk in stream.Enumerate())
        {
            var (l, next) = Run(chunk, state, backward: false);
            state = next;
            total += (double)l * chunk.Batch * chunk.Steps;
            count += chunk.Batch * chunk.Steps;
        }
        if (stream.Tail() is { } tail)
        {
            var (l, _) = Run(tail, LastStream(state!, stream.Batch), backward: false);
            total += (double)l * tail.Steps;
            count += tail.Steps;
        }
        return (total / count, count);
    }

    /// <summary>The state of the last of B streams, as the state of one stream: (L*D, 1, H) from (L*D, B, H).</summary>
    private static RecurrentState LastStream(RecurrentState state, int batch)
    {
        static Tensor Row(Tensor t, int batch)
        {
            int layers = t.Dim(0), h = t.Dim(2);
            var row = new Tensor(layers, 1, h);
            for (int l = 0; l < layers; l++) t.Span.Slice((l * batch + batch - 1) * h, h).CopyTo(row.Span.Slice(l * h, h));
            return row;
        }
        return RecurrentState.From(Row(state.Hidden, batch), state.Cell is { } c ? Row(c, batch) : null);
    }

    /// <summary>
    /// Feeds <paramref name="seed"/> (at least one token), then samples <paramref name="length"/> tokens one at a
    /// time, each fed back as the next input (a <see cref="Sampler"/> over this model's <see cref="Next"/>). Returns the
    /// sampled tokens (not the seed).
    /// </summary>
    public int[] Generate(ReadOnlySpan<int> seed, int length, float temperature, int topK, float topP, Rng rng) =>
        [.. GenerateStream(seed.ToArray(), length, temperature, topK, topP, rng)];

    /// <summary>
    /// The tokens of <see cref="Generate"/>, yielded one at a time as each is sampled (for streaming): the same tokens
    /// from the same <paramref name="rng"/>. The arguments are checked and the seed is fed at the call; stopping the
    /// enumeration stops the sampling. Runs in evaluation mode while it is enumerated.
    /// </summary>
    public IEnumerable<int> GenerateStream(int[] seed, int length, float temperature, int topK, float topP, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(seed);
        if (seed.Length == 0) throw new ArgumentException("the seed needs at least one token", nameof(seed));
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be >= 0");
        foreach (int id in seed)
            if ((uint)id >= (uint)VocabularySize) throw new ArgumentOutOfRangeException(nameof(seed), id, $"seed ids must be in [0, {VocabularySize})");
        var sampler = new Sampler(temperature, topK, topP);
        RecurrentState state;
        float[] logits;
        using (EvaluationMode()) (logits, state) = Next(seed, null);
        return Sampled(sampler.Stream(this, logits, state, length, rng));
    }

    private IEnumerable<int> Sampled(IEnumerable<int> tokens)
    {
        using var mode = EvaluationMode();
        foreach (int id in tokens) yield return id;
    }

    /// <summary>One token for each of W hypotheses (W streams of one step), in evaluation mode: logits (W*V) and the new state.</summary>
    (float[] Scores, RecurrentState State) ITokenStepper.Step(int[] tokens, RecurrentState state)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(state);
        using var mode = EvaluationMode();
        var batch = new SequenceBatch { Tokens = tokens, Lengths = Enumerable.Repeat(1, tokens.Length).ToArray(), Steps = 1 };
        using var pass = Encoder.Forward(batch, state.Hidden, state.Cell, requiresGrad: false);
        return (Head.Forward(pass.Rnn.Output).Output.ToArray(), RecurrentState.Detach(pass.Rnn));
    }

    /// <summary>Logits of the token after <paramref name="ids"/>, continuing from <paramref name="state"/>.</summary>
    public (float[] Logits, RecurrentState State) Next(int[] ids, RecurrentState? state)
    {
        var batch = new SequenceBatch { Tokens = ids, Lengths = [ids.Length], Steps = ids.Length };
        using var pass = Encoder.Forward(batch, state?.Hidden, state?.Cell, requiresGrad: false);
        int h = Encoder.OutputSize;
        var last = Tensor.FromArray(pass.Rnn.Output.Span.Slice((ids.Length - 1) * h, h).ToArray(), 1, h);
        return (Head.Forward(last).Output.ToArray(), RecurrentState.Detach(pass.Rnn));
    }
}
