using System.Diagnostics;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// Forecasting the shared series (airline passengers, sunspots, co2) with the last third as the test set: an LSTM
/// forecaster beside the naive (last value) and seasonal-naive baselines, over several seeds.
/// </summary>
internal static class ForecastExperiment
{
    public sealed record Dataset(string File, string Column, int Season, int Window, string Unit);

    public static readonly Dictionary<string, Dataset> Datasets = new()
    {
        ["airline"] = new("airline-passengers.csv", "Passengers", 12, 12, "thousand passengers"),
        ["sunspots"] = new("sunspots.csv", "SUNACTIVITY", 11, 22, "sunspot number"),
        ["co2"] = new("co2.csv", "co2", 52, 52, "ppmv"),
    };

    public sealed record Options(string DataDir, string Name, ulong Seed = 42, int Seeds = 5, int Epochs = 200, int Hidden = 32,
        bool Difference = true, float LearningRate = 5e-3f, int Batch = 16);

    public sealed record Result(string Name, int Points, int TrainEnd, int Filled, int Forecasts, int Scored, double[] Rmse, double[] Mae,
        double NaiveRmse, double NaiveMae, double SeasonalRmse, double SeasonalMae, TimeSpan Time)
    {
        public double MeanRmse => Rmse.Average();
        public double SdRmse => Sd(Rmse);
        public double MeanMae => Mae.Average();
        public double SdMae => Sd(Mae);
        private static double Sd(double[] x) => x.Length < 2 ? 0 : Math.Sqrt(x.Sum(v => (v - x.Average()) * (v - x.Average())) / (x.Length - 1));
    }

    public static Result Run(Options o, bool verbose = true)
    {
        var ds = Datasets.TryGetValue(o.Name, out var d) ? d
            : throw new ArgumentException($"unknown series '{o.Name}' (expected {string.Join(", ", Datasets.Keys)})");
        var columns = Readers.ReadTimeSeriesCsv(Path.Combine(o.DataDir, ds.File), [ds.Column]);
        // co2 has missing weeks: filled by linear interpolation between the neighbouring observations for the
        // model's inputs, but never scored as targets.
        var missing = columns[0].Select(float.IsNaN).ToArray();
        int filled = Forecaster.Interpolate(columns[0]);
        int n = columns[0].Length;
        int trainEnd = n - n / 3; // the last third is the test set
        var clock = Stopwatch.StartNew();
        var rmse = new double[o.Seeds];
        var mae = new double[o.Seeds];
        ForecastReport? report = null;
        for (int s = 0; s < o.Seeds; s++)
        {
            var rng = new Rng(o.Seed + (ulong)s);
            var config = new ForecasterConfig { Features = 1, Window = ds.Window, Horizon = 1, HiddenSize = o.Hidden, Difference = o.Difference };
            var series = Forecaster.Transform(columns, o.Difference);
            var model = new Forecaster(config, Standardizer.FitColumns(series, trainEnd), rng);
            var origins = model.TrainingOrigins(trainEnd);
            // The last 15% of the training windows validate (early stopping, best model); the rest train.
            int cut = (int)(origins.Length * 0.85);
            var fitOrigins = origins[..cut];
            var validBatch = model.Windows(series, origins[cut..]);
            var batchRng = rng.Split();
            var trainer = new Trainer<ForecastBatch>(new Adam(model.Parameters(), o.LearningRate),
                new TrainerOptions { Epochs = o.Epochs, ClipNorm = 1f, EarlyStoppingPatience = 40, LogEvery = 1_000_000 });
            trainer.Fit(model,
                _ => Batching.Batches(new int[fitOrigins.Length], o.Batch, batchRng, bucket: false)
                    .Select(b => model.Windows(series, b.Select(i => fitOrigins[i]).ToArray())),
                () => new Evaluation("loss", model.Step(validBatch, backward: false).Loss, false));
            report = model.Evaluate(columns, trainEnd, ds.Season, missing);
            rmse[s] = report.ModelRmse;
            mae[s] = report.ModelMae;
            if (verbose) Console.WriteLine($"  {o.Name} seed {o.Seed + (ulong)s}: test RMSE {rmse[s]:F3}, MAE {mae[s]:F3}");
        }
        var r = new Result(o.Name, n, trainEnd, filled, report!.Origins.Length, report.Actual.Count(v => !float.IsNaN(v)), rmse, mae, report.NaiveRmse, report.NaiveMae,
            report.SeasonalNaiveRmse, report.SeasonalNaiveMae, clock.Elapsed);
        if (verbose)
            Console.WriteLine($"{o.Name}: {n} points ({filled} interpolated), train {trainEnd}, test {n - trainEnd} ({r.Forecasts} one-step forecasts, {r.Scored} scored, {ds.Unit}); " +
                              $"LSTM RMSE {r.MeanRmse:F3} ± {r.SdRmse:F3} (MAE {r.MeanMae:F3}) over {o.Seeds} seeds | naive RMSE {r.NaiveRmse:F3} (MAE {r.NaiveMae:F3}) | " +
                              $"seasonal-naive (m={ds.Season}) RMSE {r.SeasonalRmse:F3} (MAE {r.SeasonalMae:F3}) | {ProgressPrinter.Format(r.Time)}");
        return r;
    }
}
