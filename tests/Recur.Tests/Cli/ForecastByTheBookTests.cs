using System.Globalization;
using System.Text;
using System.Text.Json;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Tensors;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary>
/// `recur train --task forecast` by the book: chronological parts that the data options really set (--test and
/// --valid series continuing --data, --valid-fraction before the test part), a mean baseline beside naive and
/// seasonal-naive, --seeds with mean and standard deviation, and warnings that tell a short series what to change.
/// The baselines' figures are recomputed here from the series itself, not read from the tool.
/// </summary>
public sealed class ForecastByTheBookTests : IDisposable
{
    private readonly TempDir d = new();

    public void Dispose() => d.Dispose();

    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A seasonal series with a trend and seeded noise, as the CSV writes it (3 decimals).</summary>
    private static float[] Series(int n)
    {
        var rng = new Rng(11);
        return Enumerable.Range(0, n).Select(i => float.Parse((20 + 0.1 * i + 4 * Math.Sin(i * Math.PI / 6) + rng.NextFloat()).ToString("F3", Inv), Inv)).ToArray();
    }

    private string Csv(string name, IEnumerable<float> values) =>
        d.File(name, "t,value\n" + string.Concat(values.Select((v, i) => string.Create(Inv, $"{i},{v:F3}\n"))));

    private static double Rmse(IEnumerable<(double Forecast, double Actual)> pairs)
    {
        var e = pairs.Select(p => (p.Forecast - p.Actual) * (p.Forecast - p.Actual)).ToArray();
        return Math.Sqrt(e.Average());
    }

    private static Dictionary<string, double> Metrics(string run)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        // The plain keys (a split prefix added by the run context is taken off).
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name.StartsWith("test_", StringComparison.Ordinal) ? p.Name[5..] : p.Name, p => p.Value.GetDouble());
    }

    private async Task<(string Run, string Stdout)> Train(string name, params string[] args)
    {
        string run = Path.Combine(d.Path, name);
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "forecast", "--column", "value", "--window", "12", "--season", "12",
                                                          "--epochs", "2", "--hidden", "8", "--output", run, .. args]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        return (run, stdout);
    }

    /// <summary>Checks the naive, seasonal-naive and mean baselines over the test targets [testStart, n) of <paramref name="y"/>.</summary>
    private static void AssertBaselines(Dictionary<string, double> m, float[] y, int testStart, int trainEnd)
    {
        var targets = Enumerable.Range(testStart, y.Length - testStart).ToArray();
        double mean = y[..trainEnd].Select(v => (double)v).Average();
        Assert.Equal(Rmse(targets.Select(t => ((double)y[t - 1], (double)y[t]))), m["naive_rmse"], 4);
        Assert.Equal(Rmse(targets.Select(t => ((double)y[t - 12], (double)y[t]))), m["seasonal_naive_rmse"], 4);
        Assert.Equal(Rmse(targets.Select(t => ((double)(float)mean, (double)y[t]))), m["mean_rmse"], 4);
        Assert.Equal(targets.Select(t => Math.Abs((float)mean - y[t])).Average(), m["mean_mae"], 4);
    }

    [Fact]
    public async Task A_test_series_continuing_the_data_is_the_test_part()
    {
        var y = Series(140);
        var (run, stdout) = await Train("run", "--data", Csv("a.csv", y[..100]), "--test", Csv("b.csv", y[100..]));
        // Validation: the last 10% of --data (--valid-fraction 0.1); the mean is that of the training part [0, 90).
        Assert.Contains("train [0, 90) / validation [90, 100)", stdout);
        Assert.Contains("test [100, 140)", stdout);
        AssertBaselines(Metrics(run), y, 100, 90);
    }

    [Fact]
    public async Task The_printed_configuration_leaves_out_the_fractions_the_data_files_replace()
    {
        var y = Series(160);
        string a = Csv("a.csv", y[..100]), v = Csv("v.csv", y[100..120]), b = Csv("b.csv", y[120..]);
        var (_, stdout) = await Train("run", "--data", a, "--valid", v, "--test", b);
        Assert.DoesNotContain("test-fraction", stdout);
        Assert.DoesNotContain("valid-fraction", stdout);
        var (_, withFractions) = await Train("fractions", "--data", a);
        Assert.Contains("test-fraction", withFractions);
        Assert.Contains("valid-fraction", withFractions);
        var (code, _, stderr) = await CliRunner.Run("train", "--task", "forecast", "--column", "value", "--data", a, "--test", b, "--test-fraction", "0.2", "--output", Path.Combine(d.Path, "both"));
        Assert.Equal(1, code);
        Assert.Contains("--test-fraction: takes effect only with no --test FILE", stderr);
    }

    [Fact]
    public async Task A_validation_series_sits_between_the_data_and_the_test_series()
    {
        var y = Series(160);
        var (run, stdout) = await Train("run", "--data", Csv("a.csv", y[..100]), "--valid", Csv("v.csv", y[100..120]), "--test", Csv("b.csv", y[120..]));
        Assert.Contains("train [0, 100) / validation [100, 120)", stdout);
        AssertBaselines(Metrics(run), y, 120, 100);

        string alone = Path.Combine(d.Path, "alone");
        var (code, _, stderr) = await CliRunner.Run("train", "--task", "forecast", "--column", "value", "--data", Path.Combine(d.Path, "a.csv"), "--valid", Path.Combine(d.Path, "v.csv"), "--output", alone);
        Assert.Equal(1, code);
        Assert.Contains("--valid: for --task forecast the validation series continues --data, so the test part must follow it: give --test FILE as well", stderr);
        Assert.False(Directory.Exists(alone));
    }

    [Theory]
    [InlineData("0.3", 52)]   // 140 points: test [94, 140) (0.33), validation the 42 points before it
    [InlineData("0", 94)]     // no validation part: the training part runs up to the test part
    public async Task The_valid_fraction_sets_the_validation_part_before_the_test_part(string fraction, int trainEnd)
    {
        var y = Series(140);
        var (run, stdout) = await Train("run", "--data", Csv("a.csv", y), "--valid-fraction", fraction);
        Assert.Contains($"train [0, {trainEnd})", stdout);
        AssertBaselines(Metrics(run), y, 94, trainEnd);
    }

    [Fact]
    public async Task Seeds_give_the_mean_and_sd_of_separate_runs_and_keep_the_first_seed_model()
    {
        var y = Series(140);
        string data = Csv("a.csv", y);
        var (several, stdout) = await Train("several", "--data", data, "--seed", "5", "--seeds", "3");
        var single = new List<(string Run, Dictionary<string, double> M)>();
        foreach (var seed in new[] { "5", "6", "7" })
        {
            var (run, _) = await Train("seed" + seed, "--data", data, "--seed", seed);
            single.Add((run, Metrics(run)));
        }
        var m = Metrics(several);
        foreach (var key in new[] { "rmse", "mae" })
        {
            var x = single.Select(s => s.M[key]).ToArray();
            double mean = x.Average();
            Assert.Equal(mean, m[key + "_mean"], 6);
            Assert.Equal(Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / 2), m[key + "_sd"], 6);
            Assert.Equal(x[0], m[key], 6);
        }
        Assert.True(m["rmse_sd"] > 0);
        float[] Weights(string run) => ModelFile.Load(Path.Combine(run, "model.recur")).Model.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        Assert.Equal(Weights(single[0].Run), Weights(several));
        Assert.Contains("model.recur, are the seed 5 model's", stdout);
    }

    [Fact]
    public async Task A_short_series_with_the_defaults_gets_warnings_that_say_what_to_change()
    {
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "forecast", "--column", "value", "--data", Csv("short.csv", Series(100)), "--hidden", "4", "--output", run);
        Assert.True(code == 0, stderr);
        // 100 points: test the last 33, validation the 10 before, training 57: 57 - 23 - 1 windows of 24 steps with a target.
        Assert.Contains("warning: ", stdout);
        Assert.Contains("only 33 training windows (57 training points, --window 24, --horizon 1)", stdout);
        Assert.Contains("only 20 optimizer steps (2 batches of --batch-size 32 per epoch, --epochs 10)", stdout);
    }

    [Fact]
    public async Task Dropout_on_a_one_layer_forecaster_is_an_error()
    {
        var (code, _, stderr) = await CliRunner.Run("train", "--task", "forecast", "--column", "value", "--data", Csv("a.csv", Series(100)), "--dropout", "0.2", "--output", Path.Combine(d.Path, "r"));
        Assert.Equal(1, code);
        Assert.Contains("--dropout: the forecaster drops out between stacked recurrent layers only", stderr);
    }

    [Fact]
    public void The_mean_baseline_is_the_mean_of_the_observed_training_values()
    {
        float[] y = [1, 100, 3, 5, 7, 9, 11, 13, 15, 17];
        bool[] missing = [.. y.Select((_, i) => i == 1)];   // 100 stands in for a filled gap: not observed, left out of the mean
        var model = new Forecaster(new ForecasterConfig { Features = 1, Window = 2, HiddenSize = 3 }, Standardizer.FitColumns([y], 6), new Rng(1));
        var report = model.Evaluate([y], testStart: 8, missing: missing, trainEnd: 6);
        Assert.Equal([7, 8], report.Origins);
        Assert.All(report.Mean!, v => Assert.Equal((1 + 3 + 5 + 7 + 9) / 5f, v));
        Assert.Equal((Math.Abs(5 - 15) + Math.Abs(5 - 17)) / 2.0, report.MeanMae, 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Evaluate([y], testStart: 8, trainEnd: 9));
    }
}
