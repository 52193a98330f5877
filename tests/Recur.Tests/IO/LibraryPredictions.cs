using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Recur.Data;
using Recur.IO;

namespace Recur.Tests.IO;

/// <summary>
/// What `recur predict --format jsonl` (and `recur translate`) prints for each input line, computed from C# alone:
/// <see cref="ModelFile.Load"/> plus one <see cref="ModelBundle"/> call per line, written in the tool's JSON shape.
/// The tests compare it character for character with the tool's output.
/// </summary>
internal static class LibraryPredictions
{
    public static string Jsonl(string task, ModelBundle b, string input, string baseDir, int beam = 2)
    {
        var sb = new StringBuilder();
        var lines = input.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        switch (task)
        {
            case "forecast":
                var series = Readers.ParseTimeSeriesCsv(input, "input", ["value"]);
                var next = b.Forecast(series);
                sb.Append(Line(w =>
                {
                    w.WriteStartArray("forecast");
                    foreach (var v in next) w.WriteNumberValue(v);
                    w.WriteEndArray();
                    w.WriteStartArray("steps"); // a series of n rows continues at step n + 1
                    for (int k = 0; k < next.Length; k++) w.WriteNumberValue(series[0].Length + k + 1);
                    w.WriteEndArray();
                }));
                return sb.ToString();
        }
        foreach (var text in lines)
        {
            sb.Append(task switch
            {
                "classify" => Classified(b.Classify(text), b.Labels!, "text", text),
                "mlp" => Classified(b.Classify(text.Split(',').Select(x => float.Parse(x, CultureInfo.InvariantCulture)).ToArray()), b.Labels!, null, null),
                "audio" => Classified(b.ClassifyAudio(Path.Combine(baseDir, text.Trim())), b.Labels!, "file", text.Trim()),
                "tag" => Line(w =>
                {
                    var tokens = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    var tags = b.Tag(tokens);
                    w.WriteStartArray("tokens");
                    foreach (var t in tokens) w.WriteStringValue(t);
                    w.WriteEndArray();
                    w.WriteStartArray("tags");
                    foreach (var t in tags) w.WriteStringValue(t);
                    w.WriteEndArray();
                    w.WriteStartArray("unknown");
                    foreach (var t in tokens) w.WriteBooleanValue(b.Tokenizer!.Vocabulary.Id(t) == b.Tokenizer.Vocabulary.UnkId);
                    w.WriteEndArray();
                }),
                "lm" => Line(w =>
                {
                    w.WriteString("text", text);
                    w.WriteStartArray("next");
                    foreach (var t in b.NextTokens(text)) { w.WriteStartObject(); w.WriteString("token", t.Token); w.WriteNumber("probability", Math.Round(t.Probability, 6)); w.WriteEndObject(); }
                    w.WriteEndArray();
                }),
                "seq2seq" => Line(w => { w.WriteString("source", text); w.WriteString("translation", b.Translate(text, beam, 50)); }),
                _ => throw new ArgumentException(task),
            });
        }
        return sb.ToString();
    }

    private static string Classified(Classification c, IReadOnlyList<string> labels, string? key, string? value) => Line(w =>
    {
        if (key is not null) w.WriteString(key, value);
        w.WriteString("label", c.Label);
        w.WriteStartObject("probabilities");
        for (int i = 0; i < labels.Count; i++) w.WriteNumber(labels[i], Math.Round(c.Probabilities[i], 6));
        w.WriteEndObject();
    });

    private static string Line(Action<Utf8JsonWriter> body)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }
}
