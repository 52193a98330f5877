using System.Globalization;
using System.Net;
using System.Text;
using Recur.Cli.Train;

namespace Recur.Cli.Reporting;

/// <summary>A self-contained HTML run report: configuration, result, curves (PNG embedded as data URIs), confusion matrix, samples.</summary>
internal static class HtmlReport
{
    public static void Write(string path, Settings settings, TrainingResult? result, TaskOutcome outcome, IReadOnlyList<(string Title, string Png)> pictures, string summary)
    {
        var inv = CultureInfo.InvariantCulture;
        var h = new StringBuilder();
        string E(string s) => WebUtility.HtmlEncode(s);
        h.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Recur run: ").Append(E(settings.Task)).Append("</title>\n");
        h.Append("<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}" +
                 "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}" +
                 "th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}code{background:#f4f4f4}</style></head><body>\n");
        h.Append("<h1>Recur run: ").Append(E(settings.Task)).Append("</h1>\n<p>").Append(E(summary)).Append("</p>\n");
        if (result is not null)
            h.Append(string.Create(inv, $"<p>{result.Steps} optimizer steps, {result.History.Count} epochs, {result.SkippedSteps} skipped steps, stopped: {result.Reason}, training time {result.Elapsed:hh\\:mm\\:ss}.</p>\n"));

        h.Append("<h2>Metrics</h2>\n<table><tr><th>metric</th><th>value</th></tr>\n");
        foreach (var (k, v) in outcome.Metrics.Concat(outcome.Facts)) h.Append("<tr><td>").Append(E(k)).Append("</td><td class=\"n\">").Append(v.ToString("F4", inv)).Append("</td></tr>\n");
        h.Append("</table>\n");
        foreach (var note in outcome.Notes) h.Append("<p>").Append(E(note)).Append("</p>\n");

        if (result is { History.Count: > 0 })
        {
            h.Append("<h2>Epochs</h2>\n<table><tr><th>epoch</th><th>steps</th><th>train loss</th><th>validation</th><th>learning rate</th></tr>\n");
            foreach (var e in result.History)
                h.Append(string.Create(inv, $"<tr><td class=\"n\">{e.Epoch}</td><td class=\"n\">{e.Steps}</td><td class=\"n\">{e.TrainLoss:F4}</td><td>{(e.Validation is { } v ? E($"{v.Name} {v.Value.ToString("F4", inv)}") : "")}</td><td class=\"n\">{e.LearningRate:G4}</td></tr>\n"));
            h.Append("</table>\n");
        }

        foreach (var (title, png) in pictures)
        {
            if (!File.Exists(png)) continue;
            h.Append("<h2>").Append(E(title)).Append("</h2>\n<img alt=\"").Append(E(title)).Append("\" src=\"data:image/png;base64,")
             .Append(Convert.ToBase64String(File.ReadAllBytes(png))).Append("\">\n");
        }

        if (outcome.Confusion is { } m)
        {
            var labels = outcome.ConfusionLabels ?? Enumerable.Range(0, m.GetLength(0)).Select(i => i.ToString(inv)).ToList();
            h.Append("<h2>Confusion matrix</h2>\n<p>Rows: true class; columns: predicted.</p>\n<table><tr><th></th>");
            foreach (var l in labels) h.Append("<th>").Append(E(l)).Append("</th>");
            h.Append("</tr>\n");
            for (int i = 0; i < m.GetLength(0); i++)
            {
                h.Append("<tr><th>").Append(E(labels[i])).Append("</th>");
                for (int j = 0; j < m.GetLength(1); j++) h.Append("<td class=\"n\">").Append(m[i, j].ToString(inv)).Append("</td>");
                h.Append("</tr>\n");
            }
            h.Append("</table>\n");
        }

        if (outcome.Samples.Count > 0)
        {
            h.Append("<h2>Sample predictions</h2>\n<table><tr><th>input</th><th>expected</th><th>predicted</th></tr>\n");
            foreach (var (i, e, p) in outcome.Samples.Take(20))
                h.Append("<tr><td>").Append(E(i)).Append("</td><td>").Append(E(e)).Append("</td><td>").Append(E(p)).Append("</td></tr>\n");
            h.Append("</table>\n");
        }

        h.Append("<h2>Configuration</h2>\n<table><tr><th>option</th><th>value</th></tr>\n");
        foreach (var (k, v) in settings.Relevant) h.Append("<tr><td><code>--").Append(E(k)).Append("</code></td><td>").Append(E(v)).Append("</td></tr>\n");
        h.Append("</table>\n</body></html>\n");
        AtomicFile.Write(path, fs => fs.Write(Encoding.UTF8.GetBytes(h.ToString())));
    }
}
