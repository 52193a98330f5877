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
            GradientProbe = probe,
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

    /// <summary>predict for a forecaster: the input is a CSV series (with header); the output the next k values.</summary>
    private static void Predict(ModelBundle bundle, Settings s, TextReader input, TextWriter output, bool json)
    {
        var (columns, _) = FillGaps(Readers.ParseTimeSeriesCsv(input.ReadToEnd(), "input", Columns(s)), "input");
        var next = bundle.Forecast(columns);
        output.WriteLine(json ? Common.JsonLine(w => { w.WriteStartArray("forecast"); foreach (var v in next) w.WriteNumberValue(v); w.WriteEndArray(); })
            : string.Join(Environment.NewLine, next.Select(v => Common.F(v))));
    }
}
