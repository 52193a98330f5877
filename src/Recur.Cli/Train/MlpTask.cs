using Recur.Nn;

namespace Recur.Cli.Train;

/// <summary>
/// One-to-one: a feed-forward network on numeric columns of a CSV/TSV (classification of the label column, or
/// regression with --regression). Features are standardised with training statistics stored in the model file.
/// </summary>
internal static class MlpTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    private sealed record Rows(float[][] X, string[] Labels, int[] Lines);

    private static (DelimitedTable Table, int[] Features, int Label) Open(string path, Settings s, int? expectedFeatures = null)
    {
        string labelSpec = s.Str("label-column");
        var featureSpecs = s.Str("feature-columns").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool named = !int.TryParse(labelSpec, out _) || featureSpecs.Any(f => !int.TryParse(f, out _));
        string mode = s.Choice("header", "auto", "yes", "no");
        var table = DelimitedTable.Read(path, Common.Delimiter(s, path), mode == "yes" || (mode == "auto" && named), s.Limits);
        // auto: a header when columns are named, or when the first row is not all numbers apart from the label.
        if (mode == "auto" && !named && FirstRowHasText(table, labelSpec)) table = table.WithFirstRowAsHeader();
        int label = table.Column(labelSpec, "--label-column");
        var features = featureSpecs.Length > 0 ? featureSpecs.Select(f => table.Column(f, "--feature-columns")).ToArray()
            : Enumerable.Range(0, table.Columns).Where(c => c != label).ToArray();
        if (features.Length == 0) throw new RecurFormatException(path, "--feature-columns", "expected at least one feature column, found none");
        if (expectedFeatures is { } n && features.Length != n)
            throw new RecurFormatException(path, "--feature-columns", $"expected {n} feature columns as the model was trained with, found {features.Length}");
        return (table, features, label);
    }

    private static bool FirstRowHasText(DelimitedTable t, string labelSpec)
    {
        int label = t.Column(labelSpec, "--label-column");
        return t.Rows[0].Cells.Where((_, i) => i != label).Any(c => !float.TryParse(c, System.Globalization.NumberStyles.Float, Common.Inv, out _));
    }

    private static Rows Read(string path, Settings s, int? expectedFeatures = null)
    {
        var (t, features, label) = Open(path, s, expectedFeatures);
        return new Rows(t.Rows.Select(r => features.Select(c => t.Number(r, c)).ToArray()).ToArray(),
            t.Rows.Select(r => t.Cell(r, label, "label")).ToArray(), t.Rows.Select(r => r.Line).ToArray());
    }

    private static DenseBatch Batch(float[][] x, Standardizer standardizer, int[] idx, int[]? classes, float[]? values)
    {
        int f = standardizer.Columns;
        var inputs = new Tensor(idx.Length, f);
        for (int k = 0; k < idx.Length; k++) standardizer.Apply(x[idx[k]], inputs.Span.Slice(k * f, f));
        return new DenseBatch
        {
            Inputs = inputs,
            Classes = classes is null ? null : idx.Select(i => classes[i]).ToArray(),
            Values = values is null ? null : Tensor.FromArray(idx.Select(i => values[i]).ToArray(), idx.Length, 1),
        };
    }

    private static float[] Values(Rows r, string source) =>
        r.Labels.Select((l, i) => float.TryParse(l, System.Globalization.NumberStyles.Float, Common.Inv, out float v) && float.IsFinite(v) ? v
            : throw new RecurFormatException(source, $"line {r.Lines[i]} field 'label'", $"expected a finite number (--regression), found '{l}'")).ToArray();

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        bool regression = s.Bool("regression");
        var all = Read(dataPath, s);
        if (s.Int("max-rows", 0) is > 0 and var rows && rows < all.X.Length) all = new Rows(all.X[..rows], all.Labels[..rows], all.Lines[..rows]);
        Rows train, valid;
        string validSource = dataPath;
        if (s.Optional("valid") is { } vp) { train = all; valid = Read(vp, s, all.X[0].Length); validSource = vp; }
        else
        {
            var (ti, vi) = regression ? Common.Split(all.X.Length, s) : Common.StratifiedSplit(all.Labels, s, dataPath);
            Rows Pick(int[] idx) => new(idx.Select(i => all.X[i]).ToArray(), idx.Select(i => all.Labels[i]).ToArray(), idx.Select(i => all.Lines[i]).ToArray());
            train = Pick(ti);
            valid = Pick(vi);
        }
        int f = train.X[0].Length;
        var standardizer = Standardizer.FitRows(train.X, f);
        var labels = regression ? null : train.Labels.Distinct().Order(StringComparer.Ordinal).ToList();
        int[]? trainC = labels is null ? null : Common.LabelIds(labels, train.Labels.Select((l, i) => (l, train.Lines[i])).ToList(), dataPath);
        int[]? validC = labels is null ? null : Common.LabelIds(labels, valid.Labels.Select((l, i) => (l, valid.Lines[i])).ToList(), validSource);
        float[]? trainV = regression ? Values(train, dataPath) : null, validV = regression ? Values(valid, validSource) : null;
        var hidden = s.Str("mlp-hidden").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(h => int.TryParse(h, out int v) && v >= 1 ? v
            : throw new ArgumentException($"--mlp-hidden: expected comma-separated widths >= 1, found '{s.Str("mlp-hidden")}'")).ToArray();
        {
            // Each dense layer: (in + 1) x out parameters; activations: batch x out, forward and backward.
            int[] widths = [f, .. hidden, regression ? 1 : labels!.Count];
            int b = s.Int("batch-size", 1);
            var layers = widths.Zip(widths.Skip(1));
            ctx.CheckMemory(MemoryEstimate.ForDense(layers.Sum(w => (w.First + 1.0) * w.Second), layers.Sum(w => 3.0 * b * w.Second), Common.OptimizerMoments(s)),
                $"batches of {b} rows, layers {string.Join(" -> ", widths)}");
        }
        ctx.PrintConfig($"{train.X.Length} training / {valid.X.Length} validation rows, {f} features, {(regression ? "regression" : $"{labels!.Count} classes")}");

        var model = new Mlp(new MlpConfig { Inputs = f, Hidden = hidden, Outputs = regression ? 1 : labels!.Count, Regression = regression, Dropout = s.Float("dropout", 0f, 0.99f) }, Common.ModelRng(s));
        int batch = s.Int("batch-size", 1);
        var shuffle = Common.ShuffleRng(s);
        var all0 = new int[train.X.Length];
        ctx.Fit(model, _ => Batching.Batches(all0, batch, shuffle, bucket: false).Select(b => Batch(train.X, standardizer, b, trainC, trainV)),
            (train.X.Length + batch - 1) / batch,
            valid.X.Length > 0 ? () =>
            {
                var m = Score(model, valid, standardizer, labels, validC, validV).Metrics;
                return regression ? new Evaluation("rmse", m["rmse"], false, new Dictionary<string, double> { ["mae"] = m["mae"] })
                    : new Evaluation("accuracy", m["accuracy"], true, new Dictionary<string, double> { ["macro_f1"] = m["macro_f1"] });
            } : null, shuffle);
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle
        {
            Model = model, Labels = labels,
            Preprocessing = new ModelPreprocessing { Standardizer = standardizer },
        };
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : Score(model, valid, standardizer, labels, validC, validV);
        return new TaskOutcome { Bundle = bundle, Metrics = outcome.Metrics, Confusion = outcome.Confusion, ConfusionLabels = labels, Samples = outcome.Samples, Split = TaskOutcome.SplitOf(s) };
    }

    private static TaskOutcome Score(Mlp model, Rows data, Standardizer standardizer, IReadOnlyList<string>? labels, int[]? classes, float[]? values)
    {
        var idx = Enumerable.Range(0, data.X.Length).ToArray();
        var b = Batch(data.X, standardizer, idx, classes, values);
        if (labels is not null)
        {
            var e = ClassifierEvaluation.Evaluate(model, [b]);
            return new TaskOutcome
            {
                Bundle = new ModelBundle { Model = model },
                Metrics = new() { ["accuracy"] = e.Accuracy, ["macro_f1"] = e.MacroF1, ["loss"] = e.Loss },
                Confusion = e.Confusion, ConfusionLabels = labels,
                Samples = idx.Take(20).Select(i => (string.Join(",", data.X[i].Select(v => Common.F(v))), labels[classes![i]], labels[e.Predicted[i]])).ToList(),
            };
        }
        float[] pred;
        double loss;
        using (model.EvaluationMode())
        {
            pred = model.Forward(b.Inputs).ToArray();
            loss = model.Step(b, backward: false).Loss;
        }
        return new TaskOutcome
        {
            Bundle = new ModelBundle { Model = model },
            Metrics = new() { ["mae"] = Metrics.Mae(pred, values!), ["rmse"] = Metrics.Rmse(pred, values!), ["loss"] = loss },
            Samples = idx.Take(20).Select(i => (string.Join(",", data.X[i].Select(v => Common.F(v))), Common.F(values![i]), Common.F(pred[i]))).ToList(),
        };
    }

    private static Standardizer Stats(ModelBundle bundle, string path) =>
        bundle.Preprocessing?.Standardizer ?? throw new RecurFormatException(path, "preprocessing.standardizer", "expected the MLP's standardisation statistics, found none");

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var model = (Mlp)bundle.Model;
        var standardizer = Stats(bundle, "model");
        var data = Read(path, s, model.Config.Inputs);
        var labels = bundle.Labels;
        return Score(model, data, standardizer, labels,
            labels is null ? null : Common.LabelIds(labels, data.Labels.Select((l, i) => (l, data.Lines[i])).ToList(), path),
            labels is null ? Values(data, path) : null);
    }

    /// <summary>Each input line: the feature values, comma- or TAB-separated; the library's <see cref="ModelBundle.Classify(ReadOnlySpan{float})"/> / <see cref="ModelBundle.Regress"/> does the rest.</summary>
    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json)
    {
        var model = (Mlp)bundle.Model;
        Stats(bundle, "model");
        foreach (var (text, line) in Common.InputLines(input))
        {
            var cells = text.Split(text.Contains('\t') ? '\t' : ',');
            if (cells.Length != model.Config.Inputs)
                throw new RecurFormatException(source, $"line {line}", $"expected {model.Config.Inputs} feature values, found {cells.Length}");
            var x = cells.Select((c, i) => float.TryParse(c.Trim(), System.Globalization.NumberStyles.Float, Common.Inv, out float v) && float.IsFinite(v) ? v
                : throw new RecurFormatException(source, $"line {line} field {i}", $"expected a finite number, found '{c}'")).ToArray();
            if (bundle.Labels is null)
            {
                float y = bundle.Regress(x);
                output.WriteLine(json ? Common.JsonLine(w => w.WriteNumber("value", y)) : Common.F(y));
                continue;
            }
            Common.PrintClassification(output, json, bundle.Labels, bundle.Classify(x).Probabilities);
        }
    }
}
