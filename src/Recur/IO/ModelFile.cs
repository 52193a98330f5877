using System.Globalization;
using System.Text;
using System.Text.Json;
using Recur.Data;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.IO;

/// <summary>A trained model with everything needed to use it again: task, tokenizer, labels, metadata.</summary>
public sealed class ModelBundle
{
    /// <summary>The model (a <see cref="SequenceClassifier"/>, <see cref="SequenceTagger"/>, <see cref="LanguageModel"/>, <see cref="Forecaster"/>, <see cref="Mlp"/>, <see cref="Seq2Seq"/>, <see cref="ConditionalGenerator"/> or a bare <see cref="Recurrent"/> stack).</summary>
    public required Module Model { get; init; }

    /// <summary>The tokenizer (and so the vocabulary) of token models.</summary>
    public ITokenizer? Tokenizer { get; init; }

    /// <summary>The target-side tokenizer of a <see cref="Seq2Seq"/> model (the source side is <see cref="Tokenizer"/>).</summary>
    public ITokenizer? TargetTokenizer { get; init; }

    /// <summary>Class or tag names, in output order.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Free-form training metadata (seed, epochs, metrics, data files...).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Model files: one safetensors file holding the parameters (PyTorch names) and, in its <c>__metadata__</c>, a JSON
/// document under the key <c>recur</c>: format version, model kind and configuration, tokenizer and vocabulary,
/// labels, normalisation statistics and training metadata. Written atomically. Loading validates the format version,
/// the configuration, and every tensor's dtype and shape against it, and executes nothing.
/// </summary>
public static class ModelFile
{
    /// <summary>The format version this build writes and the newest it reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>Writes <paramref name="bundle"/> to <paramref name="path"/> (temporary file, then rename).</summary>
    public static void Save(string path, ModelBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("format_version", FormatVersion);
            WriteModel(w, bundle.Model);
            if (bundle.Tokenizer is not null)
            {
                w.WritePropertyName("tokenizer");
                bundle.Tokenizer.Write(w);
            }
            if (bundle.TargetTokenizer is not null)
            {
                w.WritePropertyName("target_tokenizer");
                bundle.TargetTokenizer.Write(w);
            }
            if (bundle.Labels is not null)
            {
                w.WriteStartArray("labels");
                foreach (var l in bundle.Labels) w.WriteStringValue(l);
                w.WriteEndArray();
            }
            w.WriteStartObject("metadata");
            foreach (var (k, v) in bundle.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        string config = Encoding.UTF8.GetString(ms.ToArray());
        var tensors = bundle.Model.NamedParameters().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Value)).ToList();
        var meta = new Dictionary<string, string>
        {
            ["format"] = "recur-model",
            ["recur"] = config,
            ["sha256"] = Checksum(config, tensors.Select(kv => kv.Value.ToArray())),
        };
        SafeTensorsFile.Save(path, tensors, meta);
    }

    /// <summary>Reads and validates a model file; errors are <see cref="RecurFormatException"/> naming the file and field.</summary>
    public static ModelBundle Load(string path, long maxBytes = SafeTensorsFile.DefaultMaxFileBytes) =>
        Read(SafeTensorsFile.Load(path, maxBytes));

    /// <summary>
    /// Parses and validates model-file bytes (as <see cref="Load"/> does a file); <paramref name="source"/> names them
    /// in errors, which are <see cref="RecurFormatException"/>.
    /// </summary>
    public static ModelBundle Parse(byte[] data, string source) => Read(SafeTensorsFile.Parse(data, source));

    private static ModelBundle Read(SafeTensorsFile st)
    {
        string path = st.SourceName;
        if (!st.Metadata.TryGetValue("recur", out var json) || st.Metadata.GetValueOrDefault("format") != "recur-model")
            throw new RecurFormatException(path, "__metadata__", "expected a Recur model file (format 'recur-model' with a 'recur' configuration), found none; a plain PyTorch state_dict is read with TorchImport.Import instead");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new RecurFormatException(path, "__metadata__.recur", $"expected JSON, found: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new RecurFormatException(path, "__metadata__.recur", $"expected a JSON object, found {root.ValueKind}");
            int version = Int(path, root, "format_version");
            if (version > FormatVersion)
                throw new RecurFormatException(path, "format_version", $"this file was written by a newer Recur (format {version}); this build reads up to format {FormatVersion}. Upgrade Recur to load it.");
            if (version < 1) throw new RecurFormatException(path, "format_version", $"expected a version >= 1, found {version}");
            Module model;
            ITokenizer? tokenizer = null, targetTokenizer = null;
            List<string>? labels = null;
            var metadata = new Dictionary<string, string>();
            long stored = st.Names.Sum(n => st.Info(n).ElementCount);
            try
            {
                CheckSizes(path, root.GetProperty("model"), stored);
                model = ReadModel(path, root.GetProperty("model"));
                if (root.TryGetProperty("tokenizer", out var t)) tokenizer = Tokenizers.Read(t);
                if (root.TryGetProperty("target_tokenizer", out var tt)) targetTokenizer = Tokenizers.Read(tt);
                if (root.TryGetProperty("labels", out var ls))
                {
                    if (ls.ValueKind != JsonValueKind.Array || ls.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                        throw new RecurFormatException(path, "__metadata__.recur field 'labels'", $"expected an array of strings, found {Clip(ls.GetRawText())}");
                    labels = [.. ls.EnumerateArray().Select(x => x.GetString()!)];
                }
                if (root.TryGetProperty("metadata", out var md))
                {
                    if (md.ValueKind != JsonValueKind.Object)
                        throw new RecurFormatException(path, "__metadata__.recur field 'metadata'", $"expected an object of strings, found {md.ValueKind}");
                    foreach (var p in md.EnumerateObject())
                    {
                        if (p.Value.ValueKind != JsonValueKind.String)
                            throw new RecurFormatException(path, $"__metadata__.recur field 'metadata.{p.Name}'", $"expected a string, found {p.Value.ValueKind}");
                        if (!metadata.TryAdd(p.Name, p.Value.GetString()!))
                            throw new RecurFormatException(path, $"__metadata__.recur field 'metadata.{p.Name}'", "expected unique keys, found a duplicate");
                    }
                }
            }
            // KeyNotFound: a missing field; InvalidOperation: a value of the wrong kind, or a string with an escaped lone
            // surrogate; Argument: a size or combination the model's constructor rejects.
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or JsonException or ArgumentException or FormatException)
            {
                throw new RecurFormatException(path, "__metadata__.recur", $"expected a valid model configuration, found: {e.Message}");
            }

            // Tensors: exactly the model's parameters, with the configured shapes.
            var own = model.NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value);
            foreach (var name in st.Names)
                if (!own.ContainsKey(name))
                    throw new RecurFormatException(path, $"tensor '{name}'", "expected only the model's parameters, found an extra tensor");
            foreach (var (name, p) in own)
            {
                if (!st.Contains(name)) throw new RecurFormatException(path, $"tensor '{name}'", "expected this parameter of the configured model, found none");
                var info = st.Info(name);
                if (!info.Shape.AsSpan().SequenceEqual(p.Value.Shape))
                    throw new RecurFormatException(path, $"tensor '{name}' field 'shape'",
                        $"expected {Tensor.ShapeString(p.Value.Shape)} from the configuration, found {Tensor.ShapeString(info.Shape)}");
                var values = st.ReadFloat32(name);
                for (int i = 0; i < values.Length; i++)
                    if (!float.IsFinite(values[i]))
                        throw new RecurFormatException(path, $"tensor '{name}' element {i}", $"expected a finite value, found {values[i]}");
                values.CopyTo(p.Value.Span);
            }
            var encoder = model switch
            {
                SequenceClassifier c => c.Encoder,
                SequenceTagger t => t.Encoder,
                LanguageModel lm => lm.Encoder,
                Seq2Seq s2s => s2s.Encoder,
                _ => null,
            };
            if (model is Seq2Seq seq && targetTokenizer is not null && seq.Config.TargetVocabulary != targetTokenizer.Vocabulary.Count)
                throw new RecurFormatException(path, "target_tokenizer", $"expected a vocabulary of {seq.Config.TargetVocabulary} tokens to match the decoder, found {targetTokenizer.Vocabulary.Count}");
            if (tokenizer is not null && encoder?.Config.VocabularySize is { } expected && expected != tokenizer.Vocabulary.Count)
                throw new RecurFormatException(path, "tokenizer", $"expected a vocabulary of {expected} tokens to match the embedding, found {tokenizer.Vocabulary.Count}");
            if (!st.Metadata.TryGetValue("sha256", out var expectedHash))
                throw new RecurFormatException(path, "__metadata__.sha256", "expected the checksum Recur writes, found none");
            string actualHash = Checksum(json, own.Values.Select(p => p.Value.ToArray()));
            if (!string.Equals(expectedHash, actualHash, StringComparison.OrdinalIgnoreCase))
                throw new RecurFormatException(path, "checksum", $"expected SHA-256 {expectedHash}, found {actualHash}: the file is damaged (truncated, corrupted or edited)");
            model.Training = false;
            return new ModelBundle { Model = model, Tokenizer = tokenizer, TargetTokenizer = targetTokenizer, Labels = labels, Metadata = metadata };
        }
    }

    /// <summary>
    /// Every weight matrix a configuration implies is stored in the file, so the sizes of a set of distinct weight
    /// matrices (each recurrent layer's hidden-to-hidden weights, the first layer's input weights, the embedding, the
    /// heads, the MLP's layers) cannot add up to more than the stored element count. Checked before anything is
    /// allocated, so a damaged or hostile configuration cannot make the loader allocate more than a small multiple
    /// (gates, directions, biases) of what the file holds.
    /// </summary>
    private static void CheckSizes(string path, JsonElement m, long stored)
    {
        const long Cap = long.MaxValue / 4;
        long need = 0;
        void Dims(string what, params long[] dims)
        {
            long product = 1;
            foreach (long d in dims)
            {
                if (d < 1) throw new RecurFormatException(path, $"model.{what}", $"expected positive sizes, found {d}");
                product = product > Cap / d ? Cap : product * d; // saturating: the operands come from the file
            }
            need = Math.Min(need + product, Cap);
            if (need > stored)
                throw new RecurFormatException(path, $"model.{what}",
                    $"configured sizes ({string.Join(" x ", dims)}) need more values (at least {need} in all so far) than the file's {stored} stored elements");
        }
        long Get(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.TryGetInt64(out long x) ? x : 1;
        if (m.TryGetProperty("encoder", out var enc))
        {
            long h = Get(enc, "hidden_size");
            Dims("encoder.layers x hidden_size^2", Get(enc, "layers"), h, h);
            if (enc.TryGetProperty("vocabulary_size", out _))
            {
                Dims("encoder.vocabulary_size", Get(enc, "vocabulary_size"), Get(enc, "embedding_dim"));
                Dims("encoder.embedding_dim", Get(enc, "embedding_dim"), h);
            }
            if (enc.TryGetProperty("input_features", out _)) Dims("encoder.input_features", Get(enc, "input_features"), h);
            if (m.TryGetProperty("classes", out _)) Dims("classes", Get(m, "classes"), h);
            if (m.TryGetProperty("tags", out _)) Dims("tags", Get(m, "tags"), h);
        }
        if (m.TryGetProperty("target_vocabulary", out _))
        {
            long h = Get(m, "decoder_hidden");
            Dims("decoder_hidden", h, h);
            Dims("target_vocabulary", Get(m, "target_vocabulary"), h);
            Dims("decoder_embedding", Get(m, "target_vocabulary"), Get(m, "decoder_embedding"));
            Dims("decoder_layers", Get(m, "decoder_layers"), h);
        }
        if (m.TryGetProperty("frame_size", out _))
        {
            long h = Get(m, "hidden_size");
            Dims("hidden_size", h, h);
            Dims("frame_size", Get(m, "frame_size"), h);
            Dims("condition_size", Get(m, "condition_size"), h);
            Dims("layers", Get(m, "layers"), h);
        }
        if (m.TryGetProperty("input_size", out _))
        {
            long h = Get(m, "hidden_size");
            Dims("layers x hidden_size^2", Get(m, "layers"), h, h);
            Dims("input_size", Get(m, "input_size"), h);
        }
        if (m.TryGetProperty("window", out _))
        {
            long h = Get(m, "hidden_size");
            Dims("layers x hidden_size^2", Get(m, "layers"), h, h);
            Dims("features", Get(m, "features"), h);
            Dims("horizon", Get(m, "horizon"), h);
        }
        if (m.TryGetProperty("inputs", out _))
        {
            long prev = Get(m, "inputs");
            if (m.TryGetProperty("hidden", out var hs) && hs.ValueKind == JsonValueKind.Array)
                foreach (var x in hs.EnumerateArray()) { long w = x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out long v) ? v : 0; Dims("hidden", prev, w); prev = w; }
            Dims("outputs", prev, Get(m, "outputs"));
        }
    }

    private static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";

    private static int Int(string path, JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.TryGetInt32(out int i) ? i
        : throw new RecurFormatException(path, name, $"expected an integer, found {(e.TryGetProperty(name, out var x) ? x.GetRawText() : "none")}");

    private static void WriteModel(Utf8JsonWriter w, Module model)
    {
        w.WriteStartObject("model");
        switch (model)
        {
            case SequenceClassifier c:
                w.WriteString("kind", "classifier");
                WriteEncoder(w, c.Config.Encoder);
                w.WriteString("pooling", c.Config.Pooling.ToString());
                w.WriteNumber("classes", c.Config.Classes);
                break;
            case SequenceTagger t:
                w.WriteString("kind", "tagger");
                WriteEncoder(w, t.Config.Encoder);
                w.WriteNumber("tags", t.Config.Tags);
                break;
            case LanguageModel lm:
                w.WriteString("kind", "language_model");
                WriteEncoder(w, lm.Config.Encoder);
                break;
            case Forecaster f:
                w.WriteString("kind", "forecaster");
                var fc = f.Config;
                w.WriteNumber("features", fc.Features);
                w.WriteNumber("target", fc.Target);
                w.WriteNumber("window", fc.Window);
                w.WriteNumber("horizon", fc.Horizon);
                w.WriteString("cell", fc.Cell.ToString());
                w.WriteNumber("hidden_size", fc.HiddenSize);
                w.WriteNumber("layers", fc.Layers);
                w.WriteNumber("dropout", fc.Dropout);
                w.WriteBoolean("difference", fc.Difference);
                WriteFloats(w, "mean", f.Normalizer.Mean);
                WriteFloats(w, "std", f.Normalizer.Std);
                break;
            case Mlp m:
                w.WriteString("kind", "mlp");
                w.WriteNumber("inputs", m.Config.Inputs);
                w.WriteStartArray("hidden");
                foreach (int h in m.Config.Hidden) w.WriteNumberValue(h);
                w.WriteEndArray();
                w.WriteNumber("outputs", m.Config.Outputs);
                w.WriteBoolean("regression", m.Config.Regression);
                w.WriteNumber("dropout", m.Config.Dropout);
                break;
            case Recurrent r:
                w.WriteString("kind", "recurrent");
                w.WriteString("cell", r.Mode.ToString());
                w.WriteNumber("input_size", r.InputSize);
                w.WriteNumber("hidden_size", r.HiddenSize);
                w.WriteNumber("layers", r.NumLayers);
                w.WriteBoolean("bidirectional", r.Bidirectional);
                w.WriteBoolean("bias", r.HasBias);
                w.WriteBoolean("batch_first", r.BatchFirst);
                w.WriteNumber("dropout", r.Dropout);
                w.WriteNumber("recurrent_dropout", r.RecurrentDropout);
                break;
            case Seq2Seq q:
                w.WriteString("kind", "seq2seq");
                var qc = q.Config;
                WriteEncoder(w, qc.Encoder);
                w.WriteNumber("target_vocabulary", qc.TargetVocabulary);
                w.WriteNumber("bos_id", qc.BosId);
                w.WriteNumber("eos_id", qc.EosId);
                w.WriteNumber("decoder_embedding", qc.DecoderEmbedding);
                w.WriteString("decoder_cell", qc.DecoderCell.ToString());
                w.WriteNumber("decoder_hidden", qc.DecoderHidden);
                w.WriteNumber("decoder_layers", qc.DecoderLayers);
                w.WriteNumber("dropout", qc.Dropout);
                break;
            case ConditionalGenerator g:
                w.WriteString("kind", "generator");
                var gc = g.Config;
                w.WriteNumber("condition_size", gc.ConditionSize);
                w.WriteNumber("frame_size", gc.FrameSize);
                w.WriteString("cell", gc.Cell.ToString());
                w.WriteNumber("hidden_size", gc.HiddenSize);
                w.WriteNumber("layers", gc.Layers);
                w.WriteNumber("dropout", gc.Dropout);
                break;
            default:
                throw new ArgumentException($"cannot save a {model.GetType().Name}: model files hold classifiers, taggers, language models, forecasters, MLPs, seq2seq models, generators and bare recurrent stacks", nameof(model));
        }
        w.WriteEndObject();
    }

    private static void WriteEncoder(Utf8JsonWriter w, EncoderConfig e)
    {
        w.WriteStartObject("encoder");
        if (e.VocabularySize is { } v) w.WriteNumber("vocabulary_size", v);
        if (e.InputFeatures is { } f) w.WriteNumber("input_features", f);
        w.WriteNumber("embedding_dim", e.EmbeddingDim);
        w.WriteString("cell", e.Cell.ToString());
        w.WriteNumber("hidden_size", e.HiddenSize);
        w.WriteNumber("layers", e.Layers);
        w.WriteBoolean("bidirectional", e.Bidirectional);
        w.WriteNumber("dropout", e.Dropout);
        w.WriteNumber("recurrent_dropout", e.RecurrentDropout);
        w.WriteEndObject();
    }

    private static void WriteFloats(Utf8JsonWriter w, string name, float[] values)
    {
        w.WriteStartArray(name);
        foreach (float v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    private static Module ReadModel(string path, JsonElement m)
    {
        string kind = m.GetProperty("kind").GetString() ?? "";
        var rng = new Rng(0); // initial values are overwritten by the file's tensors
        return kind switch
        {
            "classifier" => new SequenceClassifier(new ClassifierConfig
            {
                Encoder = ReadEncoder(m.GetProperty("encoder")),
                Pooling = Enum.Parse<Pooling>(m.GetProperty("pooling").GetString()!),
                Classes = m.GetProperty("classes").GetInt32(),
            }, rng),
            "tagger" => new SequenceTagger(new TaggerConfig { Encoder = ReadEncoder(m.GetProperty("encoder")), Tags = m.GetProperty("tags").GetInt32() }, rng),
            "language_model" => new LanguageModel(new LanguageModelConfig { Encoder = ReadEncoder(m.GetProperty("encoder")) }, rng),
            "forecaster" => new Forecaster(new ForecasterConfig
            {
                Features = m.GetProperty("features").GetInt32(),
                Target = m.GetProperty("target").GetInt32(),
                Window = m.GetProperty("window").GetInt32(),
                Horizon = m.GetProperty("horizon").GetInt32(),
                Cell = Enum.Parse<RecurrentMode>(m.GetProperty("cell").GetString()!),
                HiddenSize = m.GetProperty("hidden_size").GetInt32(),
                Layers = m.GetProperty("layers").GetInt32(),
                Dropout = m.GetProperty("dropout").GetSingle(),
                Difference = m.GetProperty("difference").GetBoolean(),
            }, new Normalizer(Floats(m.GetProperty("mean")), Floats(m.GetProperty("std"))), rng),
            "mlp" => new Mlp(new MlpConfig
            {
                Inputs = m.GetProperty("inputs").GetInt32(),
                Hidden = m.GetProperty("hidden").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                Outputs = m.GetProperty("outputs").GetInt32(),
                Regression = m.GetProperty("regression").GetBoolean(),
                Dropout = m.GetProperty("dropout").GetSingle(),
            }, rng),
            "recurrent" => new Recurrent(Enum.Parse<RecurrentMode>(m.GetProperty("cell").GetString()!), m.GetProperty("input_size").GetInt32(),
                m.GetProperty("hidden_size").GetInt32(), m.GetProperty("layers").GetInt32(), m.GetProperty("bidirectional").GetBoolean(),
                m.GetProperty("bias").GetBoolean(), m.GetProperty("batch_first").GetBoolean(), m.GetProperty("dropout").GetSingle(), rng,
                m.GetProperty("recurrent_dropout").GetSingle()),
            "seq2seq" => new Seq2Seq(new Seq2SeqConfig
            {
                Encoder = ReadEncoder(m.GetProperty("encoder")),
                TargetVocabulary = m.GetProperty("target_vocabulary").GetInt32(),
                BosId = m.GetProperty("bos_id").GetInt32(),
                EosId = m.GetProperty("eos_id").GetInt32(),
                DecoderEmbedding = m.GetProperty("decoder_embedding").GetInt32(),
                DecoderCell = Enum.Parse<RecurrentMode>(m.GetProperty("decoder_cell").GetString()!),
                DecoderHidden = m.GetProperty("decoder_hidden").GetInt32(),
                DecoderLayers = m.GetProperty("decoder_layers").GetInt32(),
                Dropout = m.GetProperty("dropout").GetSingle(),
            }, rng),
            "generator" => new ConditionalGenerator(new GeneratorConfig
            {
                ConditionSize = m.GetProperty("condition_size").GetInt32(),
                FrameSize = m.GetProperty("frame_size").GetInt32(),
                Cell = Enum.Parse<RecurrentMode>(m.GetProperty("cell").GetString()!),
                HiddenSize = m.GetProperty("hidden_size").GetInt32(),
                Layers = m.GetProperty("layers").GetInt32(),
                Dropout = m.GetProperty("dropout").GetSingle(),
            }, rng),
            _ => throw new RecurFormatException(path, "model.kind", $"expected classifier, tagger, language_model, forecaster, mlp, seq2seq, generator or recurrent, found '{kind}'"),
        };
    }

    private static EncoderConfig ReadEncoder(JsonElement e) => new()
    {
        VocabularySize = e.TryGetProperty("vocabulary_size", out var v) ? v.GetInt32() : null,
        InputFeatures = e.TryGetProperty("input_features", out var f) ? f.GetInt32() : null,
        EmbeddingDim = e.GetProperty("embedding_dim").GetInt32(),
        Cell = Enum.Parse<RecurrentMode>(e.GetProperty("cell").GetString()!),
        HiddenSize = e.GetProperty("hidden_size").GetInt32(),
        Layers = e.GetProperty("layers").GetInt32(),
        Bidirectional = e.GetProperty("bidirectional").GetBoolean(),
        Dropout = e.GetProperty("dropout").GetSingle(),
        RecurrentDropout = e.TryGetProperty("recurrent_dropout", out var rd) ? rd.GetSingle() : 0f,
    };

    private static float[] Floats(JsonElement e) => e.EnumerateArray().Select(x => x.GetSingle()).ToArray();

    /// <summary>SHA-256 over the configuration JSON and the parameters' float32 bytes, in parameter order.</summary>
    private static string Checksum(string config, IEnumerable<float[]> tensors)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(config));
        foreach (var t in tensors) sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.AsSpan()));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Invariant formatting for metadata values.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
