using Recur.Data;
using Recur.Models;
using Recur.Models.Decoding;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.IO;

/// <summary>
/// A trained model with everything needed to use it again: tokenizer, labels, preprocessing and metadata. After
/// <see cref="ModelFile.Load"/>, one call per task turns raw input into the prediction <c>recur predict</c> prints:
/// <see cref="Classify(string)"/> (text), <see cref="Classify(ReadOnlySpan{float})"/> and
/// <see cref="Regress"/> (a numeric row), <see cref="ClassifySequence"/> and <see cref="RegressSequence"/> (a numeric
/// sequence), <see cref="ClassifyAudio(string, ReadLimits?)"/> (a WAV file),
/// <see cref="Tag"/>, <see cref="NextTokens"/>, <see cref="Translate"/>, <see cref="Forecast"/>,
/// <see cref="GenerateText"/> and <see cref="GeneratePiece"/>.
/// </summary>
public sealed class ModelBundle
{
    /// <summary>The model (a <see cref="SequenceClassifier"/>, <see cref="PooledSequenceRegressor"/>, <see cref="SequenceTagger"/>, <see cref="LanguageModel"/>, <see cref="Forecaster"/>, <see cref="Mlp"/>, <see cref="Seq2Seq"/>, <see cref="ConditionalGenerator"/> or a bare <see cref="Recurrent"/> stack: one of <see cref="ModelKinds.All"/>).</summary>
    public required Module Model { get; init; }

    /// <summary>The tokenizer (and so the vocabulary) of token models.</summary>
    public ITokenizer? Tokenizer { get; init; }

    /// <summary>The target-side tokenizer of a <see cref="Seq2Seq"/> model (the source side is <see cref="Tokenizer"/>).</summary>
    public ITokenizer? TargetTokenizer { get; init; }

    /// <summary>Class or tag names, in output order.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>How raw input becomes model input (standardisation, audio front end, piano-roll range); null when the model needs none.</summary>
    public ModelPreprocessing? Preprocessing { get; init; }

    /// <summary>Free-form training metadata (seed, epochs, metrics, data files...).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    private T As<T>(string what) where T : Module =>
        Model as T ?? throw new InvalidOperationException($"{what} needs a {typeof(T).Name}, this bundle holds a {Model.GetType().Name}");

    private IReadOnlyList<string> RequireLabels() =>
        Labels ?? throw new InvalidOperationException("this bundle has no labels (a classifier's bundle lists its classes in Labels)");

    private ITokenizer RequireTokenizer() =>
        Tokenizer ?? throw new InvalidOperationException("this bundle has no tokenizer (text models need the one they were trained with)");

    private Standardizer RequireStandardizer(int columns)
    {
        var s = Preprocessing?.Standardizer ?? throw new InvalidOperationException("this bundle has no standardisation statistics (Preprocessing.Standardizer)");
        if (s.Columns != columns) throw new InvalidOperationException($"Preprocessing.Standardizer has {s.Columns} columns, the model takes {columns} features");
        return s;
    }

    private Classification Classified(ReadOnlySpan<float> probabilities)
    {
        var labels = RequireLabels();
        if (labels.Count != probabilities.Length) throw new InvalidOperationException($"the model gives {probabilities.Length} classes, Labels has {labels.Count}");
        int best = 0;
        for (int i = 1; i < probabilities.Length; i++) if (probabilities[i] > probabilities[best]) best = i;
        return new Classification(labels[best], best, probabilities.ToArray());
    }

    private static int[] Ids(ITokenizer tok, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = tok.Encode(text);
        if (ids.Length == 0) throw new ArgumentException("text must have at least one token, found none", nameof(text));
        return ids;
    }

    /// <summary>Classifies one text with a <see cref="SequenceClassifier"/> over tokens: the class probabilities and the most likely label.</summary>
    public Classification Classify(string text) => ClassifyMany([text])[0];

    /// <summary>
    /// Classifies many texts with a <see cref="SequenceClassifier"/> over tokens in one padded, length-sorted batch;
    /// the classifications are in the order of <paramref name="texts"/>. With <see cref="Kernels.Gemm.BatchInvariant"/>
    /// on, each is bitwise what <see cref="Classify(string)"/> gives for that text alone.
    /// </summary>
    public Classification[] ClassifyMany(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var model = As<SequenceClassifier>("Classify(text)");
        var tok = RequireTokenizer();
        var ids = texts.Select(t => Ids(tok, t)).ToList();
        if (ids.Count == 0) return [];
        var p = model.Predict(SequenceBatch.FromTokens(ids, [.. Enumerable.Range(0, ids.Count)]));
        int classes = p.Dim(1);
        return [.. Enumerable.Range(0, ids.Count).Select(i => Classified(p.Span.Slice(i * classes, classes)))];
    }

    /// <summary>Classifies one row of raw feature values with an <see cref="Mlp"/> classifier (standardised with the stored statistics).</summary>
    public Classification Classify(ReadOnlySpan<float> features)
    {
        var model = As<Mlp>("Classify(features)");
        if (model.Config.Regression) throw new InvalidOperationException("this MLP is a regression model: use Regress");
        var y = model.Forward(Standardized(model, features));
        return Classified(Activations.Softmax(Tensor.FromArray(y.ToArray(), 1, y.Length)).Output.Span);
    }

    /// <summary>The value an <see cref="Mlp"/> regression model predicts for one row of raw feature values.</summary>
    public float Regress(ReadOnlySpan<float> features)
    {
        var model = As<Mlp>("Regress");
        if (!model.Config.Regression) throw new InvalidOperationException("this MLP is a classifier: use Classify");
        return model.Forward(Standardized(model, features)).Span[0];
    }

    private Tensor Standardized(Mlp model, ReadOnlySpan<float> features)
    {
        if (features.Length != model.Config.Inputs)
            throw new ArgumentException($"features.Length must equal the model's inputs (expected {model.Config.Inputs}, got {features.Length})", nameof(features));
        var x = new Tensor(1, features.Length);
        RequireStandardizer(model.Config.Inputs).Apply(features, x.Span);
        return x;
    }

    /// <summary>
    /// Classifies one numeric sequence with a <see cref="SequenceClassifier"/> over feature vectors: <paramref name="steps"/>
    /// holds T steps of F raw feature values, row-major; each step is standardised with the stored statistics (when the
    /// bundle has them).
    /// </summary>
    public Classification ClassifySequence(ReadOnlySpan<float> steps)
    {
        var model = As<SequenceClassifier>("ClassifySequence");
        return Classified(model.Predict(FeatureBatch(model.Config.Encoder, steps)).Span);
    }

    /// <summary>
    /// The value a <see cref="PooledSequenceRegressor"/> predicts for one numeric sequence (T steps of F raw feature
    /// values, row-major, standardised with the stored statistics when the bundle has them); its first output, in the
    /// targets' units (mapped back with <see cref="ModelPreprocessing.Target"/> when the bundle has it).
    /// </summary>
    public float RegressSequence(ReadOnlySpan<float> steps)
    {
        var model = As<PooledSequenceRegressor>("RegressSequence");
        float z = model.Predict(FeatureBatch(model.Config.Encoder, steps)).Span[0];
        return Preprocessing?.Target is { } target ? target.Invert(0, z) : z;
    }

    private SequenceBatch FeatureBatch(EncoderConfig encoder, ReadOnlySpan<float> steps)
    {
        int f = encoder.InputFeatures ?? throw new InvalidOperationException("this model reads token ids, not feature vectors");
        if (steps.Length == 0 || steps.Length % f != 0)
            throw new ArgumentException($"steps must hold whole steps of the model's {f} features (at least one), got {steps.Length} values", nameof(steps));
        var standardizer = Preprocessing?.Standardizer is null ? null : RequireStandardizer(f);
        return SequenceBatch.FromFeatures([steps.ToArray()], f, standardizer: standardizer);
    }

    /// <summary>
    /// A copy of this bundle whose metadata carries the training configuration the <c>recur</c> tool reads from a model
    /// file: <c>config.task</c> = <paramref name="task"/> (classify, tag, lm, seq2seq, forecast, audio, music, mlp,
    /// sequence) and <c>config.NAME</c> for each of <paramref name="options"/> (the names of <c>recur train</c>'s
    /// options, without dashes; the others take their defaults). <c>recur train</c> writes these itself; a model trained
    /// with library code needs them to be used by <c>recur evaluate</c> and <c>recur predict</c>. Save the copy with
    /// <see cref="ModelFile.Save"/>.
    /// </summary>
    public ModelBundle WithTask(string task, IReadOnlyDictionary<string, string>? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(task);
        var meta = new Dictionary<string, string>(Metadata, StringComparer.Ordinal) { ["config.task"] = task };
        if (options is not null)
            foreach (var (k, v) in options)
            {
                if (string.IsNullOrWhiteSpace(k) || k.StartsWith('-') || k.Contains('.'))
                    throw new ArgumentException($"options must be named as in the configuration, without dashes or dots (e.g. \"label-column\"), found '{k}'", nameof(options));
                ArgumentNullException.ThrowIfNull(v, nameof(options));
                meta["config." + k] = v;
            }
        return new ModelBundle
        {
            Model = Model, Tokenizer = Tokenizer, TargetTokenizer = TargetTokenizer, Labels = Labels, Preprocessing = Preprocessing, Metadata = meta,
        };
    }

    /// <summary>The speech front end of a recogniser's bundle (features, deltas, standardisation, stacking), or null for other bundles.</summary>
    public SpeechFeatures? SpeechFeatures() =>
        Model is SpeechRecognizer && Preprocessing?.Audio is { } front ? front.CreateSpeechFeatures(Preprocessing.Standardizer) : null;

    private (SpeechRecognizer Model, SpeechFeatures Features, CharacterSet Characters) Recognizer(string caller)
    {
        var model = As<SpeechRecognizer>(caller);
        var features = SpeechFeatures() ?? throw new InvalidOperationException("this bundle has no speech front end (Preprocessing.Audio)");
        return (model, features, new CharacterSet(RequireLabels()));
    }

    /// <summary>
    /// The transcription of one utterance (mono samples in [-1, 1]) with a speech recogniser: best path, or the most
    /// probable result of <paramref name="search"/> (see <see cref="SpeechDecoding.Decode"/>).
    /// </summary>
    public string Transcribe(ReadOnlySpan<float> samples, int sampleRate, CtcPrefixBeamSearch? search = null)
    {
        var (model, features, chars) = Recognizer("Transcribe");
        SpeechAudio.CheckRate("samples", sampleRate, features.SampleRate);
        var (frames, steps) = features.Compute(samples);
        using var mode = model.EvaluationMode();
        var logits = model.Logits(new SequenceBatch { Features = Tensor.FromArray(frames, 1, steps, features.Width), Lengths = [steps], Steps = steps });
        return SpeechDecoding.Decode(logits, [steps], chars, search)[0];
    }

    /// <summary>
    /// Transcribes one WAV file (PCM 8/16-bit mono, optionally .wav.gz, at the training rate: other rates are refused,
    /// not resampled); files over <paramref name="limits"/> (bytes, or frames as the sequence length) are rejected.
    /// Decoded by best path, or with <paramref name="search"/>.
    /// </summary>
    public string Transcribe(string wavPath, ReadLimits? limits = null, CtcPrefixBeamSearch? search = null)
    {
        _ = Recognizer("Transcribe");
        return TranscribeWav(DataFiles.ReadAllBytes(wavPath, limits), wavPath, limits, search);
    }

    /// <summary>
    /// Transcribes the bytes of a WAV file (read already, or received, e.g. as an HTTP body) exactly as
    /// <see cref="Transcribe(string, ReadLimits?, CtcPrefixBeamSearch?)"/> transcribes a file: PCM 8/16-bit mono at the
    /// training rate (other rates are refused, not resampled), at most <see cref="ReadLimits.MaxSequenceLength"/> frames
    /// of <paramref name="limits"/>. Errors name <paramref name="source"/>.
    /// </summary>
    public string TranscribeWav(byte[] wav, string source, ReadLimits? limits = null, CtcPrefixBeamSearch? search = null)
    {
        ArgumentNullException.ThrowIfNull(wav);
        ArgumentNullException.ThrowIfNull(source);
        var (_, features, _) = Recognizer("TranscribeWav");
        var audio = Wav.Parse(wav, source);
        SpeechAudio.CheckRate(source, audio.SampleRate, features.SampleRate);
        int max = (limits ?? ReadLimits.Default).MaxSequenceLength, frames = features.Audio.FrameCount(audio.Samples.Length);
        if (frames > max) throw new RecurFormatException(source, "length", $"expected at most {max} frames, found {frames}");
        return Transcribe(audio.Samples, features.SampleRate, search);
    }

    /// <summary>
    /// A recogniser that transcribes while the audio arrives (a unidirectional speech recogniser only), by best path or
    /// with <paramref name="search"/>.
    /// </summary>
    public StreamingRecognizer CreateStreamingRecognizer(CtcPrefixBeamSearch? search = null)
    {
        var (model, features, chars) = Recognizer("CreateStreamingRecognizer");
        return new StreamingRecognizer(model, features, chars, search);
    }

    /// <summary>
    /// The standardised MFCC frames of one clip, (T, W) row-major, as an audio classifier sees them; the clip must have
    /// the training sample rate.
    /// </summary>
    public float[] AudioFrames(ReadOnlySpan<float> samples, int sampleRate)
    {
        var front = Preprocessing?.Audio ?? throw new InvalidOperationException("this bundle has no audio front end (Preprocessing.Audio)");
        if (sampleRate != front.SampleRate)
            throw new ArgumentException($"sampleRate must equal the training audio's (expected {front.SampleRate} Hz, got {sampleRate})", nameof(sampleRate));
        var features = front.CreateFeatures();
        var frames = features.Compute(samples);
        RequireStandardizer(features.Width).ApplyInPlace(frames);
        return frames;
    }

    /// <summary>Classifies one audio clip (mono samples in [-1, 1]) with an audio classifier.</summary>
    public Classification ClassifyAudio(ReadOnlySpan<float> samples, int sampleRate)
    {
        var model = As<SequenceClassifier>("ClassifyAudio");
        var frames = AudioFrames(samples, sampleRate);
        int w = Preprocessing!.Audio!.CreateFeatures().Width, steps = frames.Length / w;
        if (steps == 0) throw new ArgumentException("samples must hold at least one frame of audio", nameof(samples));
        var x = Tensor.FromArray(frames, 1, steps, w);
        return Classified(model.Predict(new SequenceBatch { Features = x, Lengths = [steps], Steps = steps }).Span);
    }

    /// <summary>
    /// Classifies one WAV file (PCM 8/16-bit mono, optionally .wav.gz) with an audio classifier; files over
    /// <paramref name="limits"/> (bytes, or frames as the sequence length) are rejected.
    /// </summary>
    public Classification ClassifyAudio(string wavPath, ReadLimits? limits = null)
    {
        var audio = Wav.Read(wavPath, limits);
        if (Preprocessing?.Audio is { } front && audio.SampleRate != front.SampleRate)
            throw new RecurFormatException(wavPath, "'fmt ' field 'sample rate'", $"expected {front.SampleRate} Hz like the training audio, found {audio.SampleRate}");
        int max = (limits ?? ReadLimits.Default).MaxSequenceLength;
        int steps = Preprocessing?.Audio?.CreateFeatures().FrameCount(audio.Samples.Length) ?? 0;
        if (steps > max) throw new RecurFormatException(wavPath, "length", $"expected at most {max} frames, found {steps}");
        return ClassifyAudio(audio.Samples, audio.SampleRate);
    }

    /// <summary>The tag of each token with a <see cref="SequenceTagger"/> (tokens are looked up in the vocabulary as they are).</summary>
    public string[] Tag(IReadOnlyList<string> tokens) => TagMany([tokens])[0];

    /// <summary>
    /// The tags of many token sequences with a <see cref="SequenceTagger"/> in one padded, length-sorted batch, in the
    /// order of <paramref name="sentences"/>; with <see cref="Kernels.Gemm.BatchInvariant"/> on, each is what
    /// <see cref="Tag"/> gives for that sequence alone.
    /// </summary>
    public string[][] TagMany(IReadOnlyList<IReadOnlyList<string>> sentences)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        foreach (var tokens in sentences)
        {
            ArgumentNullException.ThrowIfNull(tokens, nameof(sentences));
            if (tokens.Count == 0) throw new ArgumentException("tokens must not be empty", nameof(sentences));
        }
        var model = As<SequenceTagger>("Tag");
        var tok = RequireTokenizer();
        var tags = RequireLabels();
        if (sentences.Count == 0) return [];
        var ids = sentences.Select(tokens => tokens.Select(tok.Vocabulary.Id).ToArray()).ToList();
        return [.. model.PredictTags(SequenceBatch.FromTokens(ids, [.. Enumerable.Range(0, ids.Count)])).Select(row => row.Select(t => tags[t]).ToArray())];
    }

    /// <summary>The <paramref name="count"/> most likely next tokens after <paramref name="text"/> with a <see cref="LanguageModel"/>, most likely first.</summary>
    public IReadOnlyList<TokenProbability> NextTokens(string text, int count = 5)
    {
        var model = As<LanguageModel>("NextTokens");
        var tok = RequireTokenizer();
        var (logits, _) = model.Next(Ids(tok, text), null);
        var probs = Activations.Softmax(Tensor.FromArray(logits, 1, logits.Length)).Output.ToArray();
        return [.. Enumerable.Range(0, probs.Length).OrderByDescending(i => probs[i]).Take(count).Select(i => new TokenProbability(TokenText(tok, i), i, probs[i]))];
    }

    /// <summary>A token as text; one that decodes to nothing or to a line break (such as <c>&lt;eos&gt;</c>) shows its vocabulary name.</summary>
    private static string TokenText(ITokenizer tok, int id)
    {
        string t = tok.Decode([id]);
        return tok.Kind != "char" && (t.Length == 0 || t == "\n") ? tok.Vocabulary.Token(id) : t;
    }

    /// <summary>Continues <paramref name="prompt"/> by <paramref name="length"/> sampled tokens with a <see cref="LanguageModel"/>; returns prompt and continuation.</summary>
    public string GenerateText(string prompt, int length, float temperature = 1f, int topK = 0, float topP = 1f, ulong seed = 1) =>
        Tokenizers.Continue(RequireTokenizer(), prompt, [.. GenerateTokens(prompt, length, temperature, topK, topP, seed)]);

    /// <summary>
    /// The token ids <see cref="GenerateText"/> samples after <paramref name="prompt"/>, yielded one at a time as each is
    /// drawn (for streaming); <c>Tokenizers.Continue(Tokenizer, prompt, ids)</c> of all of them is its text.
    /// </summary>
    public IEnumerable<int> GenerateTokens(string prompt, int length, float temperature = 1f, int topK = 0, float topP = 1f, ulong seed = 1)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var model = As<LanguageModel>("GenerateText");
        var tok = RequireTokenizer();
        var ids = tok.Encode(prompt);
        if (ids.Length == 0) ids = [tok.Vocabulary.UnkId];
        return model.GenerateStream(ids, length, temperature, topK, topP, new Rng(seed));
    }

    /// <summary>Translates one sentence with a <see cref="Seq2Seq"/> model (beam search when <paramref name="beam"/> &gt; 1, else greedy); words joined by spaces.</summary>
    public string Translate(string text, int beam = 1, int maxLength = 50)
    {
        var model = As<Seq2Seq>("Translate");
        if (beam < 1) throw new ArgumentOutOfRangeException(nameof(beam), beam, "beam must be >= 1");
        var target = TargetTokenizer ?? throw new InvalidOperationException("this bundle has no target tokenizer");
        var ids = Ids(RequireTokenizer(), text);
        var outIds = beam > 1 ? model.Beam(ids, maxLength, beam) : model.Greedy(ids, maxLength);
        return string.Join(' ', target.Decode(outIds).Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>The next Horizon values of the target column after the end of <paramref name="columns"/> (raw values, no gaps), with a <see cref="Forecaster"/>.</summary>
    public float[] Forecast(float[][] columns) => As<Forecaster>("Forecast").ForecastNext(columns);

    /// <summary>
    /// Generates <paramref name="length"/> piano-roll steps with a music <see cref="ConditionalGenerator"/>, continuing
    /// <paramref name="seed"/> (or starting from silence), in the stored pitch range.
    /// </summary>
    public Piece GeneratePiece(Piece? seed, int length, float temperature = 1f, ulong rngSeed = 1)
    {
        var model = As<ConditionalGenerator>("GeneratePiece");
        var range = Preprocessing?.Music ?? throw new InvalidOperationException("this bundle has no piano-roll range (Preprocessing.Music)");
        int pitches = model.Config.FrameSize;
        float[] seedFrames = seed is null ? [] : PianoRoll.Encode(seed, range.LowestPitch, pitches);
        var frames = model.Generate([1f], length, temperature, new Rng(rngSeed), seedFrames);
        return PianoRoll.Decode(frames, range.LowestPitch, pitches);
    }
}

/// <summary>A classification: the most likely label, its index, and every class probability in label order.</summary>
/// <param name="Label">The most likely label.</param>
/// <param name="Index">Its index in <see cref="ModelBundle.Labels"/>.</param>
/// <param name="Probabilities">Every class's probability, in label order.</param>
public sealed record Classification(string Label, int Index, float[] Probabilities)
{
    /// <summary>The probability of <see cref="Label"/>.</summary>
    public float Probability => Probabilities[Index];
}

/// <summary>A candidate next token and its probability.</summary>
/// <param name="Token">The token's text.</param>
/// <param name="Id">Its vocabulary id.</param>
/// <param name="Probability">Its probability.</param>
public sealed record TokenProbability(string Token, int Id, float Probability);
