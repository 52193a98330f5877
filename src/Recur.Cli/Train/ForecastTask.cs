namespace Recur.Cli.Train;

/// <summary>
/// Time-series forecasting from a CSV with a header (columns by name): windows of --window steps predict the next
/// --horizon values of the first column. The parts are chronological: training, validation (the --valid series, or the
/// last --valid-fraction of --data before the test part) and test (the --test series continuing the others, or the last
/// --test-fraction of --data). Statistics come from the training part only, and gaps (empty cells) are filled by linear
/// interpolation for inputs but never scored. MAE and RMSE are reported beside the naive, seasonal-naive and mean
/// baselines; --seeds N trains N models and adds the mean and standard deviation of their test figures.
/// </summary>
internal static class ForecastTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    private static string[] Columns(Settings s) => s.Str("column").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static (float[][] Columns, bool[] Missing) Read(string path, Settings s) =>
        FillGaps(Readers.ReadTimeSeriesCsv(path, Columns(s), s.Limits), path);

    /// <summary>Which targets were gaps (never scored), and the columns with their gaps interpolated for inputs.</summary>
    private static (float[][] Columns, bool[] Missing) FillGaps(float[][] columns, string source)
    {
        var missing = columns[0].Select(float.IsNaN).ToArray();
        foreach (var c in columns)
        {
            if (c.All(float.IsNaN)) throw new RecurFormatException(source, "--column", "expected numbers in the column, found only empty cells");
            Forecaster.Interpolate(c);
        }
        return (columns, missing);
    }

    /// <summary>
    /// The series of a run and its chronological parts: training [0, ValidStart), validation [ValidStart, TestStart),
    /// test [TestStart, n). The test part is the --test file (a series continuing --data, or --valid when given) or the
    /// last --test-fraction of --data; the validation part is the --valid file or the last --valid-fraction of --data
    /// before the test part.
    /// </summary>
    private sealed record Parts(float[][] Columns, bool[] Missing, int ValidStart, int TestStart, string Summary);

    private static Parts Split(Settings s)
    {
        string dataPath = s.Str("data");
        var (columns, missing) = Read(dataPath, s);
        if (s.Int("max-rows", 0) is > 0 and var rows && rows < columns[0].Length) (columns, missing) = (columns.Select(c => c[..rows]).ToArray(), missing[..rows]);
        int n = columns[0].Length;
        string? validPath = s.Optional("valid"), testPath = s.Optional("test");
        if (validPath is not null && testPath is null)
            throw new ArgumentException("--valid: for --task forecast the validation series continues --data, so the test part must follow it: " +
                                        "give --test FILE as well (the series that continues --valid), or leave --valid out and hold out the end of --data with --valid-fraction");
        int dataEnd = n, validStart, testStart;
        var summary = new List<string>();
        if (UsesTestFraction(s))
        {
            float tf = s.Float("test-fraction", 0.01f, 0.9f);
            testStart = dataEnd = n - (int)(n * tf);
            summary.Add($"test [{testStart}, {n}): the last {n - testStart} points of --data (--test-fraction {Common.F(tf)})");
        }
        if (validPath is not null)
        {
            var (vc, vm) = Read(validPath, s);
            (columns, missing) = Append(columns, missing, vc, vm);
            validStart = n;
            summary.Insert(0, $"validation [{n}, {columns[0].Length}): {validPath}");
        }
        else
        {
            float vf = s.Float("valid-fraction", 0f, 0.9f);
            validStart = dataEnd - (int)(n * vf);
            if (validStart < 1) throw new ArgumentException($"--valid-fraction: {Common.F(vf)} of {n} points leaves no training part before the test part at {dataEnd}");
            summary.Insert(0, validStart < dataEnd ? $"validation [{validStart}, {dataEnd}): the last {dataEnd - validStart} points of --data before the test part (--valid-fraction {Common.F(vf)})"
                                                  : "no validation part (--valid-fraction 0)");
        }
        if (testPath is not null)
        {
            var (tc, tm) = Read(testPath, s);
            testStart = columns[0].Length;
            (columns, missing) = Append(columns, missing, tc, tm);
            summary.Add($"test [{testStart}, {columns[0].Length}): {testPath}, continuing {(validPath is null ? "--data" : "--valid")}");
        }
        else testStart = dataEnd;
        summary.Insert(0, $"train [0, {validStart})");
        return new Parts(columns, missing, validStart, testStart, string.Join(" / ", summary));
    }

    /// <summary>Whether --test-fraction takes effect: only without a --test series (which is then the test part).</summary>
    public static bool UsesTestFraction(Settings s) => s.Optional("test") is null;

    private static (float[][], bool[]) Append(float[][] columns, bool[] missing, float[][] more, bool[] moreMissing) =>
        (columns.Zip(more, (a, b) => a.Concat(b).ToArray()).ToArray(), [.. missing, .. moreMissing]);

    /// <summary>Fewer training windows than this get a warning: a recurrent forecaster learns little from them.</summary>
    public const int FewWindows = 50;

    /// <summary>Fewer optimizer steps than this get a warning.</summary>
    public const int FewSteps = 300;

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        var parts = Split(s);
        var (columns, missing, validStart, testStart) = (parts.Columns, parts.Missing, parts.ValidStart, parts.TestStart);
        int n = columns[0].Length;
        int seeds = s.Int("seeds", 1, 1000);
        var config = new ForecasterConfig
        {
            Features = columns.Length, Window = s.Int("window", 1), Horizon = s.Int("horizon", 1), Cell = Common.Cell(s),
            HiddenSize = s.Int("hidden", 1), Layers = s.Int("layers", 1), Dropout = s.Float("dropout", 0f, 0.99f), Difference = s.Bool("difference"),
        };
        if (config.Dropout > 0 && config.Layers == 1)
            throw new ArgumentException("--dropout: the forecaster drops out between stacked recurrent layers only (its input is the series itself), so with --layers 1 it would do nothing: " +
                                        "use --layers 2 or more, or leave --dropout out");
        if (n - testStart < config.Horizon)
            throw new ArgumentException($"--horizon: the test part has {n - testStart} points, fewer than the horizon of {config.Horizon} (lengthen the test part: --test-fraction or --test)");
        ctx.CheckMemory(MemoryEstimate.ForRecurrent(config.Cell, config.Features, config.HiddenSize, config.Layers, false, config.Window, s.Int("batch-size", 1),
                Common.OptimizerMoments(s), config.Dropout > 0) + MemoryEstimate.ForDense((double)config.Features * config.Horizon * (config.HiddenSize + 1), 0, Common.OptimizerMoments(s)),
            $"batches of {s.Int("batch-size", 1)} windows of {config.Window} steps");
        var series = Forecaster.Transform(columns, config.Difference);
        var standardizer = Standardizer.FitColumns(series, validStart);
        var model = new Forecaster(config, standardizer, Common.ModelRng(s));
        var origins = model.TrainingOrigins(validStart);
        var validOrigins = Enumerable.Range(0, n).Where(o => o >= validStart - 1 && o + config.Horizon < testStart && o - config.Window + 1 >= model.FirstUsable).ToArray();
        if (origins.Length == 0)
            throw new RecurFormatException(dataPath, "file", $"expected enough points for a window of {config.Window} and a horizon of {config.Horizon} before the validation part, found {validStart} training points of {n}");
        if (validStart < testStart && validOrigins.Length == 0)
            throw new ArgumentException($"--horizon: the validation part [{validStart}, {testStart}) is shorter than the horizon of {config.Horizon}; lengthen it (--valid-fraction, --valid) or set --valid-fraction 0");
        ctx.PrintConfig($"{n} points ({missing.Count(m => m)} gaps filled), {parts.Summary}; {origins.Length} training windows" + (seeds > 1 ? $"; {seeds} seeds" : ""));

        int batch = s.Int("batch-size", 1), batchesPerEpoch = (origins.Length + batch - 1) / batch;
        long optimizerSteps = (long)s.Int("epochs", 1) * batchesPerEpoch;
        if (s.Int("max-steps", 0) is > 0 and var cap) optimizerSteps = Math.Min(optimizerSteps, cap);
        if (origins.Length < FewWindows)
            Console.WriteLine($"warning: {dataPath}: only {origins.Length} training windows ({validStart} training points, --window {config.Window}, --horizon {config.Horizon}); " +
                              $"a recurrent forecaster needs more: shorten --window, lower --valid-fraction or --test-fraction, or give a longer series");
        if (optimizerSteps < FewSteps)
            Console.WriteLine($"warning: only {optimizerSteps} optimizer steps ({batchesPerEpoch} batches of --batch-size {batch} per epoch, --epochs {s.Int("epochs", 1)}); " +
                              $"too few to fit a forecaster: raise --epochs (e.g. 200) or lower --batch-size (e.g. 16)");

        var validBatch = validOrigins.Length > 0 ? model.Windows(series, validOrigins) : null;
        var probe = Common.Probe(model, model.Windows(series, origins[..Math.Min(batch, origins.Length)]), model.Step);
        ctx.ProbeAtStart(probe);
        TrainingResult Fit(Forecaster m, Rng shuffle, bool another, ulong? seed = null) =>
            ctx.Fit(m, _ => Batching.Batches(new int[origins.Length], batch, shuffle, bucket: false).Select(b => m.Windows(series, b.Select(i => origins[i]).ToArray())),
                batchesPerEpoch, validBatch is null ? null : () => new Evaluation("loss", Common.MeanLoss(m, [validBatch]), false), shuffle, another, seed);
        Fit(model, Common.ShuffleRng(s), another: false);
        if (ctx.Cancelled) return null;
        int season = s.Int("season", 0);
        var outcome = Score(model, columns, testStart, season, missing, validStart);
        var metrics = outcome.Metrics;
        var notes = new List<string> { $"parts: {parts.Summary}" };
        notes.AddRange(outcome.Notes);
        if (seeds > 1)
        {
            // Further models, seeds --seed+1 ..., trained and scored the same way; model.recur keeps the --seed model.
            var runs = new List<Dictionary<string, double>> { metrics };
            for (int k = 1; k < seeds; k++)
            {
                ulong seed = s.Seed + (ulong)k;
                var other = new Forecaster(config, standardizer, new Rng(seed + 1));   // as Common.ModelRng / ShuffleRng for that seed
                var r = Fit(other, new Rng(seed + 2), another: true, seed);
                if (r.Reason == StopReason.Cancelled) return null;
                var m = Score(other, columns, testStart, season, missing, validStart).Metrics;
                Console.WriteLine(string.Create(Common.Inv, $"seed {seed}: {r.Steps} steps in {r.History.Count} epochs ({r.Reason}), test rmse {m["rmse"]:F4}, mae {m["mae"]:F4}"));
                runs.Add(m);
            }
            foreach (var key in new[] { "mae", "rmse" })
            {
                var x = runs.Select(r => r[key]).ToArray();
                double mean = x.Average();
                metrics[key + "_mean"] = mean;
                metrics[key + "_sd"] = Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1));
            }
            notes.Add($"seeds {s.Seed}..{s.Seed + (ulong)seeds - 1}: rmse {string.Join(" / ", runs.Select(r => Common.F(r["rmse"])))}; *_mean and *_sd (sample standard deviation) are over these {seeds} models; " +
                      $"mae and rmse, and model.recur, are the seed {s.Seed} model's");
        }
        return new TaskOutcome
        {
            Bundle = new ModelBundle { Model = model }, Metrics = metrics, Samples = outcome.Samples, Notes = notes,
            GradientProbe = probe, Split = "test",   // the --test series or the last --test-fraction of --data
        };
    }

    private static TaskOutcome Score(Forecaster model, float[][] columns, int testStart, int season, bool[] missing, int trainEnd)
    {
        var r = model.Evaluate(columns, testStart, season, missing, trainEnd);
        var m = new Dictionary<string, double> { ["mae"] = r.ModelMae, ["rmse"] = r.ModelRmse, ["naive_mae"] = r.NaiveMae, ["naive_rmse"] = r.NaiveRmse };
        if (season > 0) { m["seasonal_naive_mae"] = r.SeasonalNaiveMae; m["seasonal_naive_rmse"] = r.SeasonalNaiveRmse; }
        m["mean_mae"] = r.MeanMae;
        m["mean_rmse"] = r.MeanRmse;
        int k = model.Config.Horizon;
        var samples = Enumerable.Range(0, Math.Min(20, r.Origins.Length)).Select(i => (
            $"origin {r.Origins[i]} (last value {Common.F(columns[model.Config.Target][r.Origins[i]])})",
            string.Join(" ", r.Actual.Skip(i * k).Take(k).Select(v => Common.F(v))),
            string.Join(" ", r.Model.Skip(i * k).Take(k).Select(v => Common.F(v))))).ToList();
        int observed = Enumerable.Range(0, trainEnd).Count(i => !missing[i]);
        string note = $"{r.Origins.Length} forecasts of {k} step{(k == 1 ? "" : "s")} from origins {r.Origins[0]}..{r.Origins[^1]}; baselines: naive (the last observed value), " +
                      (season > 0 ? $"seasonal_naive (the value one season, {season} steps, before the target), " : "") +
                      $"mean (the mean of the {observed} observed values of steps [0, {trainEnd}))";
        return new TaskOutcome { Bundle = new ModelBundle { Model = model }, Metrics = m, Samples = samples, Notes = [note] };
    }

    /// <summary>Evaluates on a whole series file: its last --test-fraction is scored; the mean baseline is the mean of the part before it.</summary>
    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var model = (Forecaster)bundle.Model;
        var (columns, missing) = Read(path, s);
        int n = columns[0].Length, testStart = n - (int)(n * s.Float("test-fraction", 0.01f, 0.9f));
        return Score(model, columns, testStart, s.Int("season", 0), missing, testStart);
    }

    /// <summary>
    /// predict for a forecaster: the input is a CSV series (with header); the output the next k values, each with its
    /// step (1-based row number in the series: a series of n rows is continued by steps n+1, n+2...) and, when the series
    /// has a date or time column, its date (the last date plus the series' last interval, or whole months).
    /// </summary>
    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json)
    {
        string text = input.ReadToEnd();
        var (columns, _) = FillGaps(Readers.ParseTimeSeriesCsv(text, source, Columns(s)), source);
        var next = bundle.Forecast(columns);
        int n = columns[0].Length;
        var dates = NextDates(text, Columns(s), next.Length);
        if (!json)
        {
            for (int k = 0; k < next.Length; k++) output.WriteLine($"{dates?[k] ?? $"step {n + k + 1}"}\t{Common.F(next[k])}");
            return;
        }
        output.WriteLine(Common.JsonLine(w =>
        {
            w.WriteStartArray("forecast");
            foreach (var v in next) w.WriteNumberValue(v);
            w.WriteEndArray();
            w.WriteStartArray("steps");
            for (int k = 0; k < next.Length; k++) w.WriteNumberValue(n + k + 1);
            w.WriteEndArray();
            if (dates is null) return;
            w.WriteStartArray("dates");
            foreach (var d in dates) w.WriteStringValue(d);
            w.WriteEndArray();
        }));
    }

    private static readonly string[] DateNames = ["date", "time", "timestamp", "datetime", "ds", "day", "month", "period"];

    /// <summary>
    /// The dates of the next <paramref name="count"/> steps after a series' last row, or null when it has no date column:
    /// the first column (other than the series' own) named like a date (date, time, timestamp...) or holding dates in its
    /// last two rows. The interval is the last two dates' difference, or whole months when they fall on the same day.
    /// </summary>
    internal static string[]? NextDates(string text, IReadOnlyList<string> series, int count)
    {
        var lines = DataFiles.Lines(text).Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count < 3) return null;
        var header = Readers.SplitCsv(lines[0]);
        List<string> last = Readers.SplitCsv(lines[^1]), previous = Readers.SplitCsv(lines[^2]);
        if (last.Count != header.Count || previous.Count != header.Count) return null;
        static DateTime? Date(string cell) =>
            !double.TryParse(cell, System.Globalization.NumberStyles.Float, Common.Inv, out _)
            && DateTime.TryParse(cell, Common.Inv, System.Globalization.DateTimeStyles.AllowWhiteSpaces, out var d) ? d : null;
        var candidates = Enumerable.Range(0, header.Count).Where(c => !series.Contains(header[c], StringComparer.OrdinalIgnoreCase))
            .OrderBy(c => DateNames.Contains(header[c].Trim().ToLowerInvariant()) ? 0 : 1).ThenBy(c => c);
        foreach (int c in candidates)
        {
            if (Date(last[c]) is not { } b || Date(previous[c]) is not { } a || b <= a) continue;
            int months = (b.Year - a.Year) * 12 + b.Month - a.Month;
            bool monthly = months > 0 && a.Day == b.Day && a.TimeOfDay == b.TimeOfDay;
            bool dayOnly = a.TimeOfDay == TimeSpan.Zero && b.TimeOfDay == TimeSpan.Zero && (monthly || (b - a).Ticks % TimeSpan.TicksPerDay == 0);
            bool yearMonth = monthly && last[c].Trim().Length == 7 && previous[c].Trim().Length == 7; // "1949-01", as the series writes it
            string format = yearMonth ? "yyyy-MM" : dayOnly ? "yyyy-MM-dd" : b.Second == 0 && a.Second == 0 ? "yyyy-MM-dd HH:mm" : "yyyy-MM-dd HH:mm:ss";
            try { return [.. Enumerable.Range(1, count).Select(k => (monthly ? b.AddMonths(months * k) : b + (b - a) * k).ToString(format, Common.Inv))]; }
            catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException) { return null; } // past year 9999: steps only
        }
        return null;
    }
}
