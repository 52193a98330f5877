namespace Recur.Cli.Train;

/// <summary>
/// Time-series forecasting from a CSV with a header (columns by name): windows of --window steps predict the next
/// --horizon values of the first column. The last --test-fraction is the test set, the same fraction before it
/// validates, statistics come from the training part only, and gaps (empty cells) are filled by linear interpolation
/// for inputs but never scored. MAE and RMSE are reported beside naive and seasonal-naive baselines.
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

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        var (columns, missing) = Read(dataPath, s);
        if (s.Int("max-rows", 0) is > 0 and var rows && rows < columns[0].Length) (columns, missing) = (columns.Select(c => c[..rows]).ToArray(), missing[..rows]);
        int n = columns[0].Length;
        float testFraction = s.Float("test-fraction", 0.01f, 0.9f);
        int testStart = n - (int)(n * testFraction);
        int validStart = testStart - (int)(n * testFraction);
        var config = new ForecasterConfig
        {
            Features = columns.Length, Window = s.Int("window", 1), Horizon = s.Int("horizon", 1), Cell = Common.Cell(s),
            HiddenSize = s.Int("hidden", 1), Layers = s.Int("layers", 1), Dropout = s.Float("dropout", 0f, 0.99f), Difference = s.Bool("difference"),
        };
        ctx.CheckMemory(MemoryEstimate.ForRecurrent(config.Cell, config.Features, config.HiddenSize, config.Layers, false, config.Window, s.Int("batch-size", 1),
                Common.OptimizerMoments(s), config.Dropout > 0) + MemoryEstimate.ForDense((double)config.Features * config.Horizon * (config.HiddenSize + 1), 0, Common.OptimizerMoments(s)),
            $"batches of {s.Int("batch-size", 1)} windows of {config.Window} steps");
        var series = Forecaster.Transform(columns, config.Difference);
        var model = new Forecaster(config, Standardizer.FitColumns(series, validStart), Common.ModelRng(s));
        var origins = model.TrainingOrigins(validStart);
        var validOrigins = Enumerable.Range(0, n).Where(o => o >= validStart - 1 && o + config.Horizon < testStart && o - config.Window + 1 >= model.FirstUsable).ToArray();
        if (origins.Length == 0)
            throw new RecurFormatException(dataPath, "file", $"expected enough points for a window of {config.Window} and a horizon of {config.Horizon} before the validation part, found {validStart} training points of {n}");
        ctx.PrintConfig($"{n} points ({missing.Count(m => m)} gaps filled), train [0, {validStart}) / validation [{validStart}, {testStart}) / test [{testStart}, {n}); {origins.Length} training windows");

        int batch = s.Int("batch-size", 1);
        var shuffle = Common.ShuffleRng(s);
        var validBatch = validOrigins.Length > 0 ? model.Windows(series, validOrigins) : null;
        var probe = Common.Probe(model, model.Windows(series, origins[..Math.Min(batch, origins.Length)]), model.Step);
        ctx.ProbeAtStart(probe);
        ctx.Fit(model, _ => Batching.Batches(new int[origins.Length], batch, shuffle, bucket: false).Select(b => model.Windows(series, b.Select(i => origins[i]).ToArray())),
            (origins.Length + batch - 1) / batch,
            validBatch is null ? null : () => new Evaluation("loss", Common.MeanLoss(model, [validBatch]), false), shuffle);
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle { Model = model };
        var outcome = Score(model, columns, testStart, s.Int("season", 0), missing);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Samples = outcome.Samples,
            GradientProbe = probe, Split = "test", // the last --test-fraction of the series
        };
    }

    private static TaskOutcome Score(Forecaster model, float[][] columns, int testStart, int season, bool[] missing)
    {
        var r = model.Evaluate(columns, testStart, season, missing);
        var m = new Dictionary<string, double> { ["mae"] = r.ModelMae, ["rmse"] = r.ModelRmse, ["naive_mae"] = r.NaiveMae, ["naive_rmse"] = r.NaiveRmse };
        if (season > 0) { m["seasonal_naive_mae"] = r.SeasonalNaiveMae; m["seasonal_naive_rmse"] = r.SeasonalNaiveRmse; }
        int k = model.Config.Horizon;
        var samples = Enumerable.Range(0, Math.Min(20, r.Origins.Length)).Select(i => (
            $"origin {r.Origins[i]} (last value {Common.F(columns[model.Config.Target][r.Origins[i]])})",
            string.Join(" ", r.Actual.Skip(i * k).Take(k).Select(v => Common.F(v))),
            string.Join(" ", r.Model.Skip(i * k).Take(k).Select(v => Common.F(v))))).ToList();
        return new TaskOutcome { Bundle = new ModelBundle { Model = model }, Metrics = m, Samples = samples };
    }

    /// <summary>Evaluates on a whole series file: its last --test-fraction is scored.</summary>
    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var model = (Forecaster)bundle.Model;
        var (columns, missing) = Read(path, s);
        int n = columns[0].Length;
        return Score(model, columns, n - (int)(n * s.Float("test-fraction", 0.01f, 0.9f)), s.Int("season", 0), missing);
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
