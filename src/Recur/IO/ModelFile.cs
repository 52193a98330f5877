using System.Globalization;
using System.Text;
using System.Text.Json;
using Recur.Data;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.IO;

/// <summary>
/// Model files: one safetensors file holding the parameters (PyTorch names) and, in its <c>__metadata__</c>, a JSON
/// document under the key <c>recur</c>: format version, model kind and configuration (the kind's configuration
/// record, see <see cref="ModelKinds"/>), preprocessing (<see cref="ModelPreprocessing"/>), tokenizer and vocabulary,
/// labels and training metadata. Written atomically. Loading validates the format version, the configuration, and
/// every tensor's dtype and shape against it, and executes nothing.
/// </summary>
/// <remarks>
/// Format 2 (this build) adds the typed <c>preprocessing</c> section. Format 1 files still load: a forecaster's
/// <c>mean</c>/<c>std</c> (in its <c>model</c> section) and the metadata strings <c>feature_mean</c>,
/// <c>feature_std</c>, <c>sample_rate</c> (with <c>config.mfcc</c>, <c>config.mel-bands</c>) and <c>lowest_pitch</c>
/// are read into <see cref="ModelBundle.Preprocessing"/> and removed from <see cref="ModelBundle.Metadata"/>.
/// </remarks>
public static class ModelFile
{
    /// <summary>The format version this build writes and the newest it reads.</summary>
    public const int FormatVersion = 2;

    /// <summary>Writes <paramref name="bundle"/> to <paramref name="path"/> (temporary file, then rename).</summary>
    public static void Save(string path, ModelBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("format_version", FormatVersion);
            var kind = ModelKinds.For(bundle.Model);
            w.WriteStartObject("model");
            w.WriteString("kind", kind.Name);
            foreach (var p in kind.WriteConfig(bundle.Model).EnumerateObject()) p.WriteTo(w);
            w.WriteEndObject();
            if (kind.Preprocessing(bundle.Model, bundle.Preprocessing) is { IsEmpty: false } pre)
            {
                w.WritePropertyName("preprocessing");
                JsonSerializer.Serialize(w, pre, ModelJsonContext.Default.ModelPreprocessing);
            }
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
        catch (JsonException e) { throw new RecurFormatException(path, $"__metadata__.recur (byte {e.BytePositionInLine ?? 0})", JsonErrors.Problem(e)); }
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
            ModelPreprocessing? preprocessing = null;
            var metadata = new Dictionary<string, string>();
            long stored = st.Names.Sum(n => st.Info(n).ElementCount);
            try
            {
                var section = Field(path, root, "model", JsonValueKind.Object, "model");
                string kindName = Field(path, section, "kind", JsonValueKind.String, "model.kind").GetString() ?? "";
                var kind = ModelKinds.Named(kindName)
                    ?? throw new RecurFormatException(path, "model.kind", $"expected one of {ModelKinds.Names}, found '{kindName}'");
                if (root.TryGetProperty("tokenizer", out var t)) tokenizer = ReadTokenizer(path, t, "tokenizer");
                if (root.TryGetProperty("target_tokenizer", out var tt)) targetTokenizer = ReadTokenizer(path, tt, "target_tokenizer");
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
                if (version >= 2 && root.TryGetProperty("preprocessing", out var pp))
                {
                    try { preprocessing = pp.Deserialize(ModelJsonContext.Default.ModelPreprocessing); }
                    catch (JsonException e) { throw new RecurFormatException(path, JsonErrors.Field(e, "preprocessing"), JsonErrors.Problem(e, pp)); }
                }
                else if (version == 1)
                    preprocessing = LegacyPreprocessing.Read(path, section, metadata);
                try { preprocessing?.Standardizer?.Validate(); }
                catch (ArgumentException e) { throw new RecurFormatException(path, "preprocessing.standardizer", $"expected finite statistics with positive standard deviations, found: {e.Message}"); }
                try { preprocessing?.Target?.Validate(); }
                catch (ArgumentException e) { throw new RecurFormatException(path, "preprocessing.target", $"expected finite statistics with positive standard deviations, found: {e.Message}"); }
                if (preprocessing?.Audio is { } audio)
                {
                    if (audio.SampleRate < 1) throw new RecurFormatException(path, "preprocessing.audio.sample_rate", $"expected a positive rate, found {audio.SampleRate}");
                    _ = audio.CreateFeatures(); // validates the MFCC settings
                }
                try { model = kind.Create(section, preprocessing, new Rng(0), path, stored); } // initial values are overwritten by the file's tensors
                catch (JsonException e) { throw new RecurFormatException(path, JsonErrors.Field(e, "model"), JsonErrors.Problem(e, section)); }
                catch (ArgumentException e) { throw new RecurFormatException(path, e.ParamName is { } p ? "model." + (Locate(section, Snake(p)) ?? Snake(p)) : "model", $"expected a valid model configuration, found: {Plain(e)}"); }
                kind.CheckTokenizers(model, tokenizer, targetTokenizer, path);
                preprocessing = kind.Preprocessing(model, preprocessing);
            }
            // KeyNotFound: a missing field; InvalidOperation: a value of the wrong kind, or a string with an escaped lone
            // surrogate; Json: a configuration record that does not match its type (a missing required field, a wrong
            // type); Argument: a size or combination the model's constructor rejects.
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or JsonException or ArgumentException or FormatException)
            {
                throw new RecurFormatException(path, "__metadata__.recur", $"expected a valid model configuration, found: {(e is JsonException j ? JsonErrors.Problem(j) : e is ArgumentException a ? Plain(a) : Generic(e))}");
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
            if (!st.Metadata.TryGetValue("sha256", out var expectedHash))
                throw new RecurFormatException(path, "__metadata__.sha256", "expected the checksum Recur writes, found none");
            string actualHash = Checksum(json, own.Values.Select(p => p.Value.ToArray()));
            if (!string.Equals(expectedHash, actualHash, StringComparison.OrdinalIgnoreCase))
                throw new RecurFormatException(path, "checksum", $"expected SHA-256 {expectedHash}, found {actualHash}: the file is damaged (truncated, corrupted or edited)");
            model.Training = false;
            return new ModelBundle { Model = model, Tokenizer = tokenizer, TargetTokenizer = targetTokenizer, Labels = labels, Preprocessing = preprocessing, Metadata = metadata };
        }
    }

    private static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";

    /// <summary>A field of a JSON object, of the given kind; otherwise an error naming <paramref name="where"/>.</summary>
    private static JsonElement Field(string path, JsonElement e, string name, JsonValueKind kind, string where) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v)
            ? v.ValueKind == kind ? v : throw new RecurFormatException(path, where, $"expected {(kind == JsonValueKind.Object ? "an object" : "a string")}, found {v.ValueKind}")
            : throw new RecurFormatException(path, where, "expected this required field, found none");

    private static ITokenizer ReadTokenizer(string path, JsonElement e, string where)
    {
        try { return Tokenizers.Read(e); }
        catch (Exception x) when (x is KeyNotFoundException or InvalidOperationException or JsonException or ArgumentException or FormatException)
        {
            string problem = x switch { JsonException j => JsonErrors.Problem(j, e), ArgumentException a => Plain(a), _ => Generic(x) };
            throw new RecurFormatException(path, where, $"expected a valid tokenizer, found: {problem}");
        }
    }

    /// <summary>What a missing field or a value of the wrong kind means, in words rather than .NET's.</summary>
    private static string Generic(Exception e) => e switch
    {
        KeyNotFoundException => "a required field is missing",
        InvalidOperationException => "a value of the wrong type, or a string that is not valid text",
        _ => e.Message,
    };

    /// <summary>An argument error's message without .NET's " (Parameter 'x')" and "Actual value was" suffixes.</summary>
    private static string Plain(ArgumentException e)
    {
        string m = e.Message;
        int cut = m.IndexOf(" (Parameter '", StringComparison.Ordinal);
        if (cut >= 0) m = m[..cut];
        return e is ArgumentOutOfRangeException { ActualValue: { } v } ? $"{m}, found {Convert.ToString(v, CultureInfo.InvariantCulture)}" : m;
    }

    /// <summary>The dotted path of the first field named <paramref name="name"/> in a configuration (encoder.dropout), or null.</summary>
    private static string? Locate(JsonElement e, string name)
    {
        if (e.ValueKind != JsonValueKind.Object) return null;
        foreach (var p in e.EnumerateObject())
            if (p.Name == name) return name;
        foreach (var p in e.EnumerateObject())
            if (Locate(p.Value, name) is { } inner) return p.Name + "." + inner;
        return null;
    }

    /// <summary>A configuration property's name as the file writes it: RecurrentDropout -> recurrent_dropout.</summary>
    private static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(c) : c.ToString()));

    private static int Int(string path, JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.TryGetInt32(out int i) ? i
        : throw new RecurFormatException(path, name, $"expected an integer, found {(e.TryGetProperty(name, out var x) ? x.GetRawText() : "none")}");

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
