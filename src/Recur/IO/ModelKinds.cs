using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Recur.Data;
using Recur.IO.Onnx;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.IO;

/// <summary>
/// One kind of model a model file can hold: its name in the file, its configuration record (serialised with
/// source-generated JSON), how to build the model from the configuration, a one-line description, and optionally an
/// ONNX exporter. <see cref="ModelKinds"/> lists them all; adding a model kind is one entry there.
/// </summary>
public abstract class ModelKind
{
    private protected ModelKind(string name, Type modelType)
    {
        Name = name;
        ModelType = modelType;
    }

    /// <summary>The <c>model.kind</c> value in a model file.</summary>
    public string Name { get; }

    /// <summary>The model class.</summary>
    public Type ModelType { get; }

    /// <summary>Whether <see cref="OnnxExport"/> can export this kind.</summary>
    public abstract bool ExportsOnnx { get; }

    /// <summary>A one-line description of a model of this kind (architecture and sizes).</summary>
    public abstract string Describe(Module model);

    internal abstract bool Handles(Module model);

    /// <summary>The configuration of <paramref name="model"/>, as the JSON object of the file's <c>model</c> section (without <c>kind</c>).</summary>
    internal abstract JsonElement WriteConfig(Module model);

    /// <summary>
    /// Builds an (untrained) model from the <c>model</c> section; the file's tensors are copied in afterwards. Before
    /// anything is allocated, the weight matrices the configuration implies are checked against
    /// <paramref name="storedElements"/>, the element count the file holds (see <see cref="CheckSizes"/>).
    /// </summary>
    internal abstract Module Create(JsonElement section, ModelPreprocessing? preprocessing, Rng rng, string source, long storedElements);

    /// <summary>
    /// Every weight matrix a configuration implies is stored in the file, so the sizes of a set of distinct weight
    /// matrices (each recurrent layer's hidden-to-hidden weights, the first layer's input weights, the embedding, the
    /// heads, the MLP's layers) cannot add up to more than the stored element count. Checked before anything is
    /// allocated, so a damaged or hostile configuration cannot make the loader allocate more than a small multiple
    /// (gates, directions, biases) of what the file holds.
    /// </summary>
    internal static void CheckSizes(string source, IEnumerable<(string What, long[] Dims)> matrices, long stored)
    {
        const long Cap = long.MaxValue / 4;
        long need = 0;
        foreach (var (what, dims) in matrices)
        {
            long product = 1;
            foreach (long d in dims)
            {
                if (d < 1) throw new RecurFormatException(source, $"model.{what}", $"expected positive sizes, found {d}");
                product = product > Cap / d ? Cap : product * d; // saturating: the operands come from the file
            }
            need = Math.Min(need + product, Cap);
            if (need > stored)
                throw new RecurFormatException(source, $"model.{what}",
                    $"configured sizes ({string.Join(" x ", dims)}) need more values (at least {need} in all so far) than the file's {stored} stored elements");
        }
    }

    /// <summary>What the model carries that the file stores in its preprocessing section (a forecaster's standardizer).</summary>
    internal abstract ModelPreprocessing? Preprocessing(Module model, ModelPreprocessing? given);

    /// <summary>Checks the bundle's tokenizers against the model's vocabulary sizes.</summary>
    internal abstract void CheckTokenizers(Module model, ITokenizer? tokenizer, ITokenizer? targetTokenizer, string source);

    internal abstract OnnxExport.Signature ExportOnnx(OnnxGraph graph, Module model);
}

/// <summary>A model kind whose configuration is the record <typeparamref name="TConfig"/>.</summary>
internal sealed class ModelKind<TModel, TConfig>(
    string name,
    JsonTypeInfo<TConfig> info,
    Func<TModel, TConfig> config,
    Func<TConfig, ModelPreprocessing?, Rng, string, TModel> create,
    Func<TModel, string> describe,
    Func<TConfig, IEnumerable<(string What, long[] Dims)>> weights,
    Func<TModel, EncoderConfig?>? encoder = null,
    Func<TModel, int?>? targetVocabulary = null,
    Func<TModel, Standardizer>? standardizer = null,
    Func<OnnxGraph, TModel, OnnxExport.Signature>? onnx = null) : ModelKind(name, typeof(TModel))
    where TModel : Module
{
    public override bool ExportsOnnx => onnx is not null;

    public override string Describe(Module model) => describe((TModel)model);

    internal override bool Handles(Module model) => model is TModel;

    internal override JsonElement WriteConfig(Module model) => JsonSerializer.SerializeToElement(config((TModel)model), info);

    internal override Module Create(JsonElement section, ModelPreprocessing? preprocessing, Rng rng, string source, long storedElements)
    {
        var c = section.Deserialize(info) ?? throw new JsonException("expected a configuration object, found null");
        CheckSizes(source, weights(c), storedElements);
        return create(c, preprocessing, rng, source);
    }

    internal override ModelPreprocessing? Preprocessing(Module model, ModelPreprocessing? given) =>
        standardizer is null ? given : (given ?? new ModelPreprocessing()) with { Standardizer = standardizer((TModel)model) };

    internal override void CheckTokenizers(Module model, ITokenizer? tokenizer, ITokenizer? targetTokenizer, string source)
    {
        var m = (TModel)model;
        if (targetVocabulary?.Invoke(m) is { } tv && targetTokenizer is not null && tv != targetTokenizer.Vocabulary.Count)
            throw new RecurFormatException(source, "target_tokenizer", $"expected a vocabulary of {tv} tokens to match the decoder, found {targetTokenizer.Vocabulary.Count}");
        if (tokenizer is not null && encoder?.Invoke(m)?.VocabularySize is { } expected && expected != tokenizer.Vocabulary.Count)
            throw new RecurFormatException(source, "tokenizer", $"expected a vocabulary of {expected} tokens to match the embedding, found {tokenizer.Vocabulary.Count}");
    }

    internal override OnnxExport.Signature ExportOnnx(OnnxGraph graph, Module model) =>
        onnx is null ? throw new ArgumentException($"ONNX export does not support {Name} models", nameof(model)) : onnx(graph, (TModel)model);
}

/// <summary>Every model kind a model file can hold: the one place that lists them.</summary>
public static class ModelKinds
{
    private static readonly ModelJsonContext Json = ModelJsonContext.Default;

    /// <summary>All kinds, in the order their names are listed in messages.</summary>
    public static IReadOnlyList<ModelKind> All { get; } =
    [
        new ModelKind<SequenceClassifier, ClassifierConfig>("classifier", Json.ClassifierConfig, m => m.Config, (c, _, rng, _) => new SequenceClassifier(c, rng),
            m => $"sequence classifier: {Encoder(m.Config.Encoder)} -> {m.Config.Pooling} pooling -> linear {m.Config.Classes} classes",
            c => [.. EncoderWeights(c.Encoder), ("classes", [c.Classes, c.Encoder.HiddenSize])],
            encoder: m => m.Config.Encoder, onnx: OnnxExport.Classifier),
        new ModelKind<SequenceTagger, TaggerConfig>("tagger", Json.TaggerConfig, m => m.Config, (c, _, rng, _) => new SequenceTagger(c, rng),
            m => $"sequence tagger: {Encoder(m.Config.Encoder)} -> linear {m.Config.Tags} tags per step",
            c => [.. EncoderWeights(c.Encoder), ("tags", [c.Tags, c.Encoder.HiddenSize])],
            encoder: m => m.Config.Encoder, onnx: OnnxExport.Tagger),
        new ModelKind<LanguageModel, LanguageModelConfig>("language_model", Json.LanguageModelConfig, m => m.Config, (c, _, rng, _) => new LanguageModel(c, rng),
            m => $"language model: {Encoder(m.Config.Encoder)} -> linear over {m.VocabularySize} tokens",
            c => EncoderWeights(c.Encoder),
            encoder: m => m.Config.Encoder, onnx: OnnxExport.Lm),
        new ModelKind<Forecaster, ForecasterConfig>("forecaster", Json.ForecasterConfig, m => m.Config,
            (c, pre, rng, source) => new Forecaster(c, pre?.Standardizer ?? throw new RecurFormatException(source, "preprocessing.standardizer", "expected the forecaster's standardisation statistics, found none"), rng),
            m => $"forecaster: window {m.Config.Window} x {m.Config.Features} features -> {m.Config.Layers}-layer {m.Config.Cell} {m.Config.HiddenSize} -> next {m.Config.Horizon}{(m.Config.Difference ? " (differenced)" : "")}",
            c => [("layers x hidden_size^2", [c.Layers, c.HiddenSize, c.HiddenSize]), ("features", [c.Features, c.HiddenSize]), ("horizon", [c.Horizon, c.HiddenSize])],
            standardizer: m => m.Standardizer),
        new ModelKind<Mlp, MlpConfig>("mlp", Json.MlpConfig, m => m.Config, (c, _, rng, _) => new Mlp(c, rng),
            m => $"feed-forward MLP: {m.Config.Inputs} -> {string.Join(" -> ", m.Config.Hidden)} -> {m.Config.Outputs}{(m.Config.Regression ? " (regression)" : " classes")}",
            MlpWeights),
        new ModelKind<Seq2Seq, Seq2SeqConfig>("seq2seq", Json.Seq2SeqConfig, m => m.Config, (c, _, rng, _) => new Seq2Seq(c, rng),
            m => $"seq2seq with Luong attention: encoder {Encoder(m.Config.Encoder)}; decoder {m.Config.DecoderLayers}-layer {m.Config.DecoderCell} {m.Config.DecoderHidden} over {m.Config.TargetVocabulary} tokens",
            c => [.. EncoderWeights(c.Encoder), ("decoder_hidden", [c.DecoderHidden, c.DecoderHidden]), ("target_vocabulary", [c.TargetVocabulary, c.DecoderHidden]),
                  ("decoder_embedding", [c.TargetVocabulary, c.DecoderEmbedding]), ("decoder_layers", [c.DecoderLayers, c.DecoderHidden])],
            encoder: m => m.Config.Encoder, targetVocabulary: m => m.Config.TargetVocabulary),
        new ModelKind<ConditionalGenerator, GeneratorConfig>("generator", Json.GeneratorConfig, m => m.Config, (c, _, rng, _) => new ConditionalGenerator(c, rng),
            m => $"conditional generator: condition {m.Config.ConditionSize} -> h0; {m.Config.Layers}-layer {m.Config.Cell} {m.Config.HiddenSize} -> {m.Config.FrameSize} sigmoid units per step",
            c => [("hidden_size", [c.HiddenSize, c.HiddenSize]), ("frame_size", [c.FrameSize, c.HiddenSize]), ("condition_size", [c.ConditionSize, c.HiddenSize]), ("layers", [c.Layers, c.HiddenSize])]),
        new ModelKind<Recurrent, RecurrentConfig>("recurrent", Json.RecurrentConfig, RecurrentConfig.Of, (c, _, rng, _) => c.Create(rng),
            m => $"recurrent stack: {m.NumLayers}-layer {(m.Bidirectional ? "bidirectional " : "")}{m.Mode} {m.InputSize} -> {m.HiddenSize}{(m.ProjSize > 0 ? $", proj_size {m.ProjSize}" : "")}{(m.BatchFirst ? ", batch-first" : "")}",
            c => [("layers x hidden_size^2", [c.Layers, c.HiddenSize, c.HiddenSize]), ("input_size", [c.InputSize, c.HiddenSize])],
            onnx: OnnxExport.Bare),
        new ModelKind<PooledSequenceRegressor, PooledRegressorConfig>("sequence_regressor", Json.PooledRegressorConfig, m => m.Config, (c, _, rng, _) => new PooledSequenceRegressor(c, rng),
            m => $"sequence regressor: {Encoder(m.Config.Encoder)} -> {m.Config.Pooling} pooling -> linear {m.Config.Outputs} value{(m.Config.Outputs == 1 ? "" : "s")}",
            c => [.. EncoderWeights(c.Encoder), ("outputs", [c.Outputs, c.Encoder.HiddenSize])],
            encoder: m => m.Config.Encoder, onnx: OnnxExport.Regressor),
        new ModelKind<SpeechRecognizer, RecognizerConfig>("speech_recognizer", Json.RecognizerConfig, m => m.Config, (c, _, rng, _) => new SpeechRecognizer(c, rng),
            m => $"speech recogniser (CTC): {Encoder(m.Config.Encoder)} -> linear over the blank and {m.Config.Classes - 1} characters per step",
            c => [.. EncoderWeights(c.Encoder), ("classes", [c.Classes, c.Encoder.HiddenSize])],
            encoder: m => m.Config.Encoder),
    ];

    /// <summary>The kind of <paramref name="model"/>; an <see cref="ArgumentException"/> for a model no file can hold.</summary>
    public static ModelKind For(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return All.FirstOrDefault(k => k.Handles(model))
            ?? throw new ArgumentException($"cannot save a {model.GetType().Name}: model files hold {Names}", nameof(model));
    }

    /// <summary>The kind named <paramref name="name"/> in a file, or null.</summary>
    public static ModelKind? Named(string name) => All.FirstOrDefault(k => k.Name == name);

    /// <summary>The kinds' names, for messages.</summary>
    public static string Names => string.Join(", ", All.Select(k => k.Name));

    /// <summary>The weight matrices of an MLP, layer by layer.</summary>
    private static IEnumerable<(string What, long[] Dims)> MlpWeights(MlpConfig c)
    {
        long previous = c.Inputs;
        foreach (int width in c.Hidden)
        {
            yield return ("hidden", [previous, width]);
            previous = width;
        }
        yield return ("outputs", [previous, c.Outputs]);
    }

    /// <summary>The distinct weight matrices of a sequence encoder (for the loader's size check).</summary>
    private static IEnumerable<(string What, long[] Dims)> EncoderWeights(EncoderConfig e)
    {
        long h = e.HiddenSize;
        yield return ("encoder.layers x hidden_size^2", [e.Layers, h, h]);
        if (e.VocabularySize is { } v)
        {
            yield return ("encoder.vocabulary_size", [v, e.EmbeddingDim]);
            yield return ("encoder.embedding_dim", [e.EmbeddingDim, h]);
        }
        if (e.InputFeatures is { } f) yield return ("encoder.input_features", [f, h]);
    }

    private static string Encoder(EncoderConfig e) =>
        $"{(e.VocabularySize is { } v ? $"embedding {v}x{e.EmbeddingDim} -> " : $"{e.InputFeatures} features -> ")}{e.Layers}-layer {(e.Bidirectional ? "bidirectional " : "")}{e.Cell} {e.HiddenSize}" +
        (e.ProjSize > 0 ? $", proj_size {e.ProjSize}" : "") +
        (e.Dropout > 0 ? $", dropout {e.Dropout}" : "") + (e.RecurrentDropout > 0 ? $", recurrent dropout {e.RecurrentDropout}" : "");
}
