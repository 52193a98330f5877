using Recur.Nn;

namespace Recur.Cli.Train;

/// <summary>
/// Many-to-one on numeric multivariate sequences (sensor windows, row-by-row images, ECG, trajectories): each sequence
/// is T steps of F numbers, classified (softmax, cross-entropy) or, with --regression, mapped to one number (MSE).
/// Input: NumPy arrays (an .npz with x, y and optionally lengths; or an .npy of features with --labels), or a long
/// CSV (sequence_id, step, features..., label). Features are standardised per feature with training statistics
/// stored in the model file.
/// </summary>
internal static class SequenceTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    /// <summary>
    /// Reads labelled (or, for prediction, unlabelled) sequences. <paramref name="labelsOption"/> names the option that
    /// gave <paramref name="labelsPath"/>, for messages.
    /// </summary>
    private static NumericSequences Read(string path, string? labelsPath, string labelsOption, Settings s, bool labelled, int? features)
    {
        NumericSequences data;
        if (SequenceFiles.IsArrayFile(path))
        {
            if (FeatureColumns(s) is not null) throw new ArgumentException($"--feature-columns: chooses columns of a long CSV, but {path} is a NumPy array file (all its features are used)");
            bool npz = (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path).EndsWith(".npz", StringComparison.OrdinalIgnoreCase);
            if (npz && labelsPath is not null)
                throw new ArgumentException($"--{labelsOption}: {path} is an .npz, which holds its labels as the array 'y'; --{labelsOption} is for an .npy of features");
            data = SequenceFiles.ReadArrays(path, labelsPath, s.Limits);
            if (labelled && data.Labels is null)
                throw new RecurFormatException(path, npz ? "array 'y'" : "labels",
                    npz ? $"expected the labels as an array named 'y' (or 'Y') beside 'x', found none" : $"expected labels for the .npy features, found none (give them with --{labelsOption} FILE: an .npy of N labels, or one label per line)");
        }
        else
        {
            if (labelsPath is not null)
                throw new ArgumentException($"--{labelsOption}: {path} is a long CSV, which holds its labels in the label column (--label-column); --{labelsOption} is for an .npy of features");
            data = FromTable(DelimitedTable.Read(path, Common.Delimiter(s, path), hasHeader: true, s.Limits), s, labelled, features);
        }
        if (features is { } n && data.Features != n)
            throw new RecurFormatException(path, "features", $"expected {n} features per step as the model was trained with, found {data.Features}");
        return data;
    }

    /// <summary>--feature-columns, or null for every column but sequence_id, step and the label.</summary>
    private static string[]? FeatureColumns(Settings s) =>
        s.Str("feature-columns").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } c ? c : null;

    /// <summary>
    /// Sequences of a long table. Unlabelled (prediction) input may leave out the label column: without
    /// --feature-columns, it is read only when the table has one column more than sequence_id, step and the features.
    /// </summary>
    private static NumericSequences FromTable(DelimitedTable table, Settings s, bool labelled, int? features)
    {
        var chosen = FeatureColumns(s);
        string? labelColumn = labelled ? s.Str("label-column") : chosen is null && features is { } f && table.Columns == f + 3 ? s.Str("label-column") : null;
        var data = SequenceFiles.FromLongTable(table, labelColumn, s.Limits, chosen);
        if (features is { } n && data.Features != n)
            throw new RecurFormatException(table.Source, "features", $"expected {n} features per step as the model was trained with, found {data.Features}");
        return data;
    }

    private static Pooling PoolingOf(Settings s) => Enum.Parse<Pooling>(s.Choice("pooling", "last", "mean", "max"), ignoreCase: true);

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        bool regression = s.Bool("regression");
        string dataPath = s.Str("data");
        var all = Read(dataPath, s.Optional("labels"), "labels", s, labelled: true, features: null);
        if (s.Int("max-rows", 0) is > 0 and var rows) all = all.Take(rows);
        int f = all.Features;
        NumericSequences train, valid;
        if (s.Optional("valid") is { } vp) { train = all; valid = Read(vp, s.Optional("valid-labels"), "valid-labels", s, labelled: true, f); }
        else
        {
            if (s.Optional("valid-labels") is not null) throw new ArgumentException("--valid-labels: expected with --valid (the labels of its .npy), found it without");
            var (ti, vi) = regression ? Common.Split(all.Count, s) : Common.StratifiedSplit(all.Labels!, s, dataPath);
            train = all.Select(ti);
            valid = all.Select(vi);
        }
        if (s.Optional("test-labels") is not null && s.Optional("test") is null)
            throw new ArgumentException("--test-labels: expected with --test (the labels of its .npy), found it without");
        var standardizer = Standardizer.FitFrames(train.Steps, x => x, x => x.Length / f, f);
        var map = regression ? null : LabelMap.FromData(train.Labels!);
        int[]? trainY = map is null ? null : Classes(map, train), validY = map is null ? null : Classes(map, valid);
        float[]? validV = regression ? valid.NumericLabels() : null;
        // Regression targets are standardised with training statistics too (stored as preprocessing.target): the model
        // learns z = (y - mean) / std, and every figure and prediction is mapped back to the targets' units.
        var targetStats = regression ? Standardizer.FitRows(train.NumericLabels().Select(v => new[] { v }), 1) : null;
        float[]? trainV = targetStats is null ? null : [.. train.NumericLabels().Select(v => targetStats.Apply(0, v))];
        if (map is { Count: < 2 }) throw new RecurFormatException(dataPath, "labels", $"expected at least 2 classes in the training part, found {map.Count} ('{map[0]}'); for numeric targets use --regression true");
        int batch = s.Int("batch-size", 1);
        int longest = Enumerable.Range(0, train.Count).Max(train.Length), shortest = Enumerable.Range(0, train.Count).Min(train.Length);
        var encoder = Common.Encoder(s, null, f);
        ctx.CheckMemory(Common.EncoderMemory(s, encoder, longest, batch, regression ? 1 : map!.Count, perStep: false), $"batches of {batch} x {longest} steps");
        ctx.PrintConfig($"{train.Count} training / {valid.Count} validation sequences of {(shortest == longest ? $"{longest}" : $"{shortest}-{longest}")} steps x {f} features, " +
                        (regression ? "regression (one value per sequence)" : $"{map!.Count} classes"));

        Module model;
        Action<IGradientFlowObserver> probe;
        var first = Enumerable.Range(0, Math.Min(batch, train.Count)).ToArray();
        var probeBatch = SequenceBatch.FromFeatures(train.Steps, f, first, trainY, trainV, standardizer);
        var shuffle = Common.ShuffleRng(s);
        var lengths = Enumerable.Range(0, train.Count).Select(train.Length).ToArray();
        IEnumerable<SequenceBatch> Batches() => Batching.Batches(lengths, batch, shuffle).Select(b => SequenceBatch.FromFeatures(train.Steps, f, b, trainY, trainV, standardizer));
        int perEpoch = (train.Count + batch - 1) / batch;
        if (regression)
        {
            var m = new PooledSequenceRegressor(new PooledRegressorConfig { Encoder = encoder, Pooling = PoolingOf(s) }, Common.ModelRng(s));
            probe = Common.Probe(m, probeBatch, m.Step);
            ctx.ProbeAtStart(probe);
            ctx.Fit(m, _ => Batches(), perEpoch, valid.Count > 0 ? () =>
            {
                var e = RegressorEvaluation.Evaluate(m, valid.Steps, validV!, standardizer, targetStats);
                return new Evaluation("rmse", e.Rmse, false, new Dictionary<string, double> { ["mae"] = e.Mae });
            } : null, shuffle);
            model = m;
        }
        else
        {
            var m = new SequenceClassifier(new ClassifierConfig { Encoder = encoder, Pooling = PoolingOf(s), Classes = map!.Count }, Common.ModelRng(s));
            probe = Common.Probe(m, probeBatch, m.Step);
            ctx.ProbeAtStart(probe);
            ctx.Fit(m, _ => Batches(), perEpoch, valid.Count > 0 ? () =>
            {
                var e = ClassifierEvaluation.Evaluate(m, valid.Steps, validY!, standardizer);
                return new Evaluation("accuracy", e.Accuracy, true, new Dictionary<string, double> { ["macro_f1"] = e.MacroF1 });
            } : null, shuffle);
            model = m;
        }
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle { Model = model, Labels = map?.Labels, Preprocessing = new ModelPreprocessing { Standardizer = standardizer, Target = targetStats } };
        var outcome = s.Optional("test") is { } tp
            ? Score(bundle, Read(tp, s.Optional("test-labels"), "test-labels", s, labelled: true, f))
            : Score(bundle, valid);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Confusion = outcome.Confusion, ConfusionLabels = outcome.ConfusionLabels, Samples = outcome.Samples,
            GradientProbe = probe, Split = TaskOutcome.SplitOf(s),
        };
    }

    /// <summary>The class of every sequence's label; a label the model does not know is an error naming the sequence's place in its file.</summary>
    private static int[] Classes(LabelMap map, NumericSequences data) =>
        [.. Enumerable.Range(0, data.Count).Select(i => map.IndexOf(data.Labels![i], data.Source, $"{data.Locations[i]} field 'label'"))];

    /// <summary>The model's features per step, after checking it is a numeric-sequence classifier or regressor.</summary>
    private static int Features(ModelBundle bundle) => bundle.Model switch
    {
        SequenceClassifier { Config.Encoder.InputFeatures: { } f } => f,
        PooledSequenceRegressor { Config.Encoder.InputFeatures: { } f } => f,
        _ => throw new RecurFormatException("model", "model.kind", $"expected a classifier or sequence_regressor over feature vectors for the sequence task, found a {ModelKinds.For(bundle.Model).Name} model ({ModelKinds.For(bundle.Model).Describe(bundle.Model)})"),
    };

    /// <summary>Scores labelled sequences: accuracy, macro-F1, loss and the confusion matrix, or RMSE, MAE and MSE in the targets' units.</summary>
    private static TaskOutcome Score(ModelBundle bundle, NumericSequences data)
    {
        var standardizer = bundle.Preprocessing?.Standardizer;
        if (bundle.Model is PooledSequenceRegressor r)
        {
            var e = RegressorEvaluation.Evaluate(r, data.Steps, data.NumericLabels(), standardizer, bundle.Preprocessing?.Target);
            return new TaskOutcome
            {
                Bundle = bundle,
                Metrics = new() { ["rmse"] = e.Rmse, ["mae"] = e.Mae, ["mse"] = e.Mse },
                Samples = [.. Enumerable.Range(0, Math.Min(20, data.Count)).Select(i => (data.Ids[i], Common.F(e.Truth[i]), Common.F(e.Predicted[i])))],
            };
        }
        var model = (SequenceClassifier)bundle.Model;
        var labels = bundle.Labels ?? throw new RecurFormatException("model", "labels", "expected the class labels of a classifier, found none");
        var c = ClassifierEvaluation.Evaluate(model, data.Steps, Classes(new LabelMap(labels), data), standardizer);
        return new TaskOutcome
        {
            Bundle = bundle,
            Metrics = new() { ["accuracy"] = c.Accuracy, ["macro_f1"] = c.MacroF1, ["loss"] = c.Loss },
            Confusion = c.Confusion, ConfusionLabels = labels,
            Samples = [.. Enumerable.Range(0, Math.Min(20, data.Count)).Select(i => (data.Ids[i], labels[c.Truth[i]], labels[c.Predicted[i]]))],
        };
    }

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        int f = Features(bundle);
        // --labels here is the one given to evaluate (TaskRegistry.SettingsOf leaves out the training run's).
        return Score(bundle, Read(path, s.Optional("labels"), "labels", s, labelled: true, f));
    }

    /// <summary>Whether predict reads its input as a file path (NumPy arrays) rather than as text lines.</summary>
    public static bool ReadsPath(string? input) => input is not null && input != "-" && SequenceFiles.IsArrayFile(input);

    /// <summary>
    /// One output line per sequence of the input (an .npy/.npz path, or a long CSV from a file or standard input):
    /// "id TAB label TAB p" (or "id TAB value"), or a JSON object; the library's <see cref="ModelBundle.ClassifySequence"/>
    /// and <see cref="ModelBundle.RegressSequence"/> do the rest.
    /// </summary>
    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json)
    {
        int f = Features(bundle);
        NumericSequences data;
        if (ReadsPath(source)) data = Read(source, null, "labels", s, labelled: false, f);
        else
        {
            string text = input.ReadToEnd();
            char delimiter = s.Choice("delimiter", "auto", "tab", "comma") != "auto" || source.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || source.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase)
                ? Common.Delimiter(s, source)
                : (text.Split('\n', 2)[0].Contains('\t') ? '\t' : ',');   // standard input: TAB when the header has one, else comma
            data = FromTable(DelimitedTable.Parse(text, source, delimiter, hasHeader: true), s, labelled: false, f);
        }
        for (int i = 0; i < data.Count; i++)
        {
            if (bundle.Model is PooledSequenceRegressor)
            {
                float y = bundle.RegressSequence(data.Steps[i]);
                string id = data.Ids[i];
                output.WriteLine(json ? Common.JsonLine(w => { w.WriteString("id", id); w.WriteNumber("value", y); }) : $"{id}\t{Common.F(y)}");
                continue;
            }
            Common.PrintClassification(output, json, bundle.Labels!, bundle.ClassifySequence(data.Steps[i]).Probabilities, "id", data.Ids[i]);
        }
    }
}
