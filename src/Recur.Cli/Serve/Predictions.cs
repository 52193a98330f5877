using System.Text.Json;

namespace Recur.Cli.Serve;

/// <summary>
/// What predict does per model kind: reads each input from JSON (errors name <c>inputs[i]</c>, expected vs found),
/// checks it against the limits, and runs it through the <see cref="ModelBundle"/> call <c>recur predict</c> uses for
/// that kind. Text classifiers and taggers run many inputs as one batch (<see cref="ModelBundle.ClassifyMany"/>,
/// <see cref="ModelBundle.TagMany"/>); the other kinds one input at a time.
/// </summary>
internal static class Predictions
{
    /// <summary>Whether predict requests of this kind are gathered into batches.</summary>
    public static bool Batches(string task) => task is "classify" or "tag";

    /// <summary>The POST endpoints a model of this task answers.</summary>
    public static string[] Endpoints(string task) => task switch
    {
        "lm" => ["predict", "generate"],
        "music" => ["generate"],
        "seq2seq" => ["predict", "translate"],
        "asr" => ["transcribe"],
        _ => ["predict"],
    };

    /// <summary>A parsed input: a text (token models), numbers (mlp, sequence, audio) or columns (forecast).</summary>
    internal sealed record Input(string? Text, string[]? Tokens, float[]? Numbers, float[][]? Columns, int SampleRate = 0);

    /// <summary>Parses and checks every input of a predict request for <paramref name="model"/>.</summary>
    public static Input[] Parse(ServedModel model, JsonElement[] inputs, int maxSequenceLength)
    {
        var parsed = new Input[inputs.Length];
        for (int i = 0; i < inputs.Length; i++) parsed[i] = ParseOne(model, inputs[i], $"inputs[{i}]", maxSequenceLength);
        return parsed;
    }

    private static Input ParseOne(ServedModel model, JsonElement e, string field, int maxLength)
    {
        var bundle = model.Bundle;
        switch (model.Task)
        {
            case "classify" or "lm" or "seq2seq":
            {
                string text = Text(e, field);
                int tokens = bundle.Tokenizer!.Encode(text).Length;
                if (tokens == 0) throw RequestError.BadField(field, "expected a text with at least one token, found none");
                if (tokens > maxLength) throw RequestError.BadField(field, $"expected at most {maxLength} tokens (--max-sequence-length), found {tokens}");
                return new Input(text, null, null, null);
            }
            case "tag":
            {
                var tokens = Text(e, field).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (tokens.Length == 0) throw RequestError.BadField(field, "expected at least one whitespace-separated token, found none");
                if (tokens.Length > maxLength) throw RequestError.BadField(field, $"expected at most {maxLength} tokens (--max-sequence-length), found {tokens.Length}");
                return new Input(null, tokens, null, null);
            }
            case "mlp":
            {
                var row = Numbers(e, field, maxLength);
                int inputs = ((Mlp)bundle.Model).Config.Inputs;
                if (row.Length != inputs) throw RequestError.BadField(field, $"expected {inputs} feature values as in training, found {row.Length}");
                return new Input(null, null, row, null);
            }
            case "sequence":
            {
                int f = Encoder(bundle).InputFeatures ?? 0;
                var steps = Rows(e, field, maxLength, f);
                return new Input(null, null, steps.SelectMany(s => s).ToArray(), null);
            }
            case "forecast":
            {
                var columns = Rows(e, field, int.MaxValue, null);
                int features = ((Forecaster)bundle.Model).Config.Features;
                if (columns.Length != features) throw RequestError.BadField(field, $"expected {features} columns as in training, found {columns.Length}");
                for (int c = 0; c < columns.Length; c++)
                {
                    if (columns[c].Length != columns[0].Length) throw RequestError.BadField($"{field}[{c}]", $"expected {columns[0].Length} values like column 0, found {columns[c].Length}");
                    if (columns[c].Length > maxLength) throw RequestError.BadField($"{field}[{c}]", $"expected at most {maxLength} values (--max-sequence-length), found {columns[c].Length}");
                }
                return new Input(null, null, null, columns);
            }
            case "audio":
            {
                if (e.ValueKind != JsonValueKind.Object) throw RequestError.BadField(field, $"expected an object {{\"samples\": [...], \"sample_rate\": n}}, found {Kind(e)}");
                if (!e.TryGetProperty("samples", out var samples)) throw RequestError.BadField(field + ".samples", "expected mono samples in [-1, 1], found none");
                if (!e.TryGetProperty("sample_rate", out var rate) || rate.ValueKind != JsonValueKind.Number || !rate.TryGetInt32(out int hz))
                    throw RequestError.BadField(field + ".sample_rate", "expected the sample rate in Hz (an integer)");
                foreach (var p in e.EnumerateObject())
                    if (p.Name is not ("samples" or "sample_rate")) throw RequestError.BadField($"{field}.{p.Name}", "unknown field (expected samples and sample_rate)");
                var x = Numbers(samples, field + ".samples", int.MaxValue);
                int frames = bundle.Preprocessing?.Audio?.CreateFeatures().FrameCount(x.Length) ?? 0;
                if (frames > maxLength) throw RequestError.BadField(field + ".samples", $"expected at most {maxLength} frames (--max-sequence-length), found {frames}");
                return new Input(null, null, x, null, hz);
            }
            default:
                throw new RequestError(400, "no predict for this model kind", $"a {model.Task} model has no predict: POST /v1/models/{model.Name}/{Endpoints(model.Task)[0]}", "model");
        }
    }

    private static EncoderConfig Encoder(ModelBundle bundle) => bundle.Model switch
    {
        SequenceClassifier c => c.Config.Encoder,
        PooledSequenceRegressor r => r.Config.Encoder,
        var m => throw new InvalidOperationException($"a sequence model is a classifier or a pooled regressor, found {m.GetType().Name}"),
    };

    /// <summary>Runs parsed inputs; for the batched kinds, all of them as one batch.</summary>
    public static PredictOutput[] Run(ServedModel model, IReadOnlyList<Input> inputs)
    {
        var bundle = model.Bundle;
        switch (model.Task)
        {
            case "classify":
                return [.. bundle.ClassifyMany([.. inputs.Select(i => i.Text!)]).Select(c => Classified(bundle, c))];
            case "tag":
            {
                var tags = bundle.TagMany([.. inputs.Select(i => (IReadOnlyList<string>)i.Tokens!)]);
                var vocabulary = bundle.Tokenizer!.Vocabulary;
                return [.. inputs.Select((i, k) => new PredictOutput
                {
                    Tokens = i.Tokens, Tags = tags[k], Unknown = [.. i.Tokens!.Select(t => vocabulary.Id(t) == vocabulary.UnkId)],
                })];
            }
            case "lm":
                return [.. inputs.Select(i => new PredictOutput { Next = [.. bundle.NextTokens(i.Text!, 5).Select(t => new NextToken(t.Token, t.Id, t.Probability))] })];
            case "seq2seq":
                return [.. Translations(model, [.. inputs.Select(i => i.Text!)], model.Settings.Int("beam", 1)).Select(t => new PredictOutput { Translation = t })];
            case "mlp":
                return [.. inputs.Select(i => ((Mlp)bundle.Model).Config.Regression
                    ? new PredictOutput { Value = bundle.Regress(i.Numbers) }
                    : Classified(bundle, bundle.Classify(i.Numbers.AsSpan())))];
            case "sequence":
                return [.. inputs.Select(i => bundle.Model is PooledSequenceRegressor
                    ? new PredictOutput { Value = bundle.RegressSequence(i.Numbers) }
                    : Classified(bundle, bundle.ClassifySequence(i.Numbers)))];
            case "forecast":
                return [.. inputs.Select(i => new PredictOutput { Forecast = bundle.Forecast(i.Columns!) })];
            case "audio":
                return [.. inputs.Select(i => Classified(bundle, bundle.ClassifyAudio(i.Numbers, i.SampleRate)))];
            default:
                throw new InvalidOperationException($"no predict for {model.Task}");
        }
    }

    /// <summary>
    /// Translations of <paramref name="texts"/> as <c>recur translate</c> makes them: one <see cref="Seq2Seq.DecodeMany(IReadOnlyList{int[]}, int, Recur.Models.Decoding.BeamSearch?, int, int, Action{int}?, CancellationToken)"/>
    /// call with the model's --max-target-length, --length-penalty and --no-repeat-ngram.
    /// </summary>
    public static string[] Translations(ServedModel model, IReadOnlyList<string> texts, int beam, CancellationToken token = default)
    {
        var s = model.Settings;
        var search = Train.Seq2SeqTask.Search(s, beam);
        var ids = texts.Select(t => model.Bundle.Tokenizer!.Encode(t)).ToList();
        var decoded = ((Seq2Seq)model.Bundle.Model).DecodeMany(ids, s.Int("max-target-length", 1), search, s.Int("no-repeat-ngram", 0, 100), Math.Max(1, ids.Count), null, token);
        return [.. decoded.Select(d => model.Bundle.TargetTokenizer!.Decode(d.Tokens))];
    }

    private static PredictOutput Classified(ModelBundle bundle, Classification c)
    {
        var labels = bundle.Labels!;
        var p = new Dictionary<string, float>(labels.Count, StringComparer.Ordinal);
        for (int i = 0; i < labels.Count; i++) p[labels[i]] = c.Probabilities[i];
        return new PredictOutput { Label = c.Label, Probabilities = p };
    }

    public static string Text(JsonElement e, string field) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw RequestError.BadField(field, $"expected a string, found {Kind(e)}");

    private static float[] Numbers(JsonElement e, string field, int max)
    {
        if (e.ValueKind != JsonValueKind.Array) throw RequestError.BadField(field, $"expected an array of numbers, found {Kind(e)}");
        int n = e.GetArrayLength();
        if (n == 0) throw RequestError.BadField(field, "expected at least one number, found an empty array");
        if (n > max) throw RequestError.BadField(field, $"expected at most {max} values (--max-sequence-length), found {n}");
        var x = new float[n];
        int k = 0;
        foreach (var v in e.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetSingle(out float f) || !float.IsFinite(f))
                throw RequestError.BadField($"{field}[{k}]", $"expected a finite number, found {Kind(v)}");
            x[k++] = f;
        }
        return x;
    }

    private static float[][] Rows(JsonElement e, string field, int maxRows, int? width)
    {
        if (e.ValueKind != JsonValueKind.Array) throw RequestError.BadField(field, $"expected an array of arrays of numbers, found {Kind(e)}");
        int n = e.GetArrayLength();
        if (n == 0) throw RequestError.BadField(field, "expected at least one row, found an empty array");
        if (n > maxRows) throw RequestError.BadField(field, $"expected at most {maxRows} steps (--max-sequence-length), found {n}");
        var rows = new float[n][];
        int k = 0;
        foreach (var row in e.EnumerateArray())
        {
            rows[k] = Numbers(row, $"{field}[{k}]", int.MaxValue);
            if (width is { } w && rows[k].Length != w) throw RequestError.BadField($"{field}[{k}]", $"expected {w} feature values per step as in training, found {rows[k].Length}");
            k++;
        }
        return rows;
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {e.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
