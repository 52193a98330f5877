using System.Diagnostics;
using System.Globalization;
using System.Text;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// The two problems of plain RNNs, made visible on the adding problem: a tanh RNN fails at T = 100 where LSTM and GRU
/// succeed; ||dL/dh_t|| vanishes going back in time for the RNN and not for the trained LSTM; with large recurrent
/// weights and plain SGD the gradient norm explodes without clipping and stays bounded with it. Curves are written as CSV.
/// </summary>
internal static class GradientExperiment
{
    public sealed record Options(string Output, ulong Seed = 42, int Length = 100, int Steps = 3000, int Hidden = 64, int Batch = 50);

    public sealed record CellResult(string Name, double TestMse, List<(int Step, double Mse)> Curve, TimeSpan Time);

    public static void Run(Options o)
    {
        Directory.CreateDirectory(o.Output);
        var inv = CultureInfo.InvariantCulture;
        var (testX, testY) = Synthetic.AddingProblem(1000, o.Length, new Rng(o.Seed + 1000));
        var testBatch = Batch(testX, testY, o.Length);
        Console.WriteLine($"adding problem, T = {o.Length}: {o.Steps} steps of {o.Batch} fresh sequences, hidden {o.Hidden}, Adam 1e-3, gradient norm clipped at 1; " +
                          $"predicting the mean scores MSE {Mse(testY, _ => 1f):F4}");

        // 1. Who solves it.
        var results = new List<CellResult>();
        var flows = new Dictionary<string, double[]>();
        foreach (var (cell, forgetBias) in new (RecurrentMode, float?)[] { (RecurrentMode.RnnTanh, null), (RecurrentMode.Lstm, null), (RecurrentMode.Lstm, 1f), (RecurrentMode.Gru, null) })
        {
            string name = forgetBias is null ? cell.ToString() : $"{cell}+forget1";
            var model = new SequenceRegressor(new RegressorConfig { InputFeatures = 2, Cell = cell, HiddenSize = o.Hidden, ForgetBias = forgetBias }, new Rng(o.Seed));
            var rng = new Rng(o.Seed + 7);
            var atStart = new GradientFlowRecorder();
            model.Step(Batch(Synthetic.AddingProblem(o.Batch, o.Length, new Rng(o.Seed + 9)), o.Length), backward: true, atStart);
            flows[$"{name} at initialisation"] = atStart.Flow()!;
            model.ZeroGrad();
            var curve = new List<(int, double)>();
            var clock = Stopwatch.StartNew();
            var trainer = new Trainer<RegressionBatch>(new Adam(model.Parameters(), 1e-3f), new TrainerOptions { Epochs = 1, MaxSteps = o.Steps, ClipNorm = 1f, LogEvery = 250 });
            trainer.Progress += p =>
            {
                if (p.Kind != ProgressKind.Step) return;
                curve.Add(((int)p.Step, Evaluate(model, testBatch)));
            };
            trainer.Fit(model, _ => Enumerable.Range(0, o.Steps).Select(_ => Batch(Synthetic.AddingProblem(o.Batch, o.Length, rng), o.Length)));
            double mse = Evaluate(model, testBatch);
            results.Add(new CellResult(name, mse, curve, clock.Elapsed));
            model.Training = true;
            var trained = new GradientFlowRecorder();
            model.Step(Batch(Synthetic.AddingProblem(o.Batch, o.Length, new Rng(o.Seed + 9)), o.Length), backward: true, trained);
            flows[$"{name} after training"] = trained.Flow()!;
            Console.WriteLine($"  {name,-13} test MSE {mse:F4} ({(mse < 0.01 ? "solved" : "not solved")}) in {ProgressPrinter.Format(clock.Elapsed)}; " +
                              $"curve: {string.Join(" ", curve.Select(c => c.Item2.ToString("F3", inv)))}");
        }
        WriteCsv(Path.Combine(o.Output, "adding-problem-test-mse.csv"), "step," + string.Join(",", results.Select(r => r.Name)),
            results[0].Curve.Select((c, i) => $"{c.Step}," + string.Join(",", results.Select(r => i < r.Curve.Count ? r.Curve[i].Mse.ToString("R", inv) : ""))));

        // 2. Gradient flow: ||dL/dh_t|| over t, for each cell, at initialisation and after training.
        var names = flows.Keys.ToList();
        WriteCsv(Path.Combine(o.Output, "gradient-flow.csv"), "t," + string.Join(",", names),
            Enumerable.Range(0, o.Length).Select(t => $"{t}," + string.Join(",", names.Select(n => flows[n][t].ToString("R", inv)))));
        Console.WriteLine("||dL/dh_t|| (t = 0 is the first step; the loss reads the state after the last):");
        int[] marks = [0, o.Length / 4, o.Length / 2, 3 * o.Length / 4, o.Length - 1];
        Console.WriteLine($"  {"",-30}" + string.Join("", marks.Select(t => $"{"t=" + t,12}")) + $"{"first/last",12}");
        foreach (var n in names)
            Console.WriteLine($"  {n,-30}" + string.Join("", marks.Select(t => $"{flows[n][t],12:E2}")) + $"{flows[n][0] / flows[n][^1],12:E2}");

        // 3. Exploding gradients: a tanh RNN whose recurrent weights start 2x too large, plain SGD with a large rate
        // (its step grows with the gradient, unlike Adam's), with and without clipping.
        Console.WriteLine("exploding gradients: tanh RNN with recurrent weights initialised 2x larger, SGD 0.1, 300 steps");
        var norms = new Dictionary<string, List<double>>();
        foreach (float? clip in new float?[] { null, 1f })
        {
            string name = clip is null ? "no clipping" : $"clip norm {clip}";
            var model = new SequenceRegressor(new RegressorConfig { InputFeatures = 2, Cell = RecurrentMode.RnnTanh, HiddenSize = o.Hidden }, new Rng(o.Seed));
            var whh = model.Rnn.NamedParameters().Single(kv => kv.Key == "weight_hh_l0").Value.Value.Span;
            TensorPrimitives.Multiply(whh, 2f, whh);
            var list = new List<double>();
            var trainer = new Trainer<RegressionBatch>(new Sgd(model.Parameters(), 0.1f),
                new TrainerOptions { Epochs = 1, MaxSteps = 300, ClipNorm = clip, LogEvery = 1, MaxConsecutiveBadSteps = 300 });
            int skipped = 0;
            trainer.Progress += p =>
            {
                if (p.Kind == ProgressKind.Step) list.Add(p.GradientNorm);
                if (p.Kind == ProgressKind.Warning) { skipped++; list.Add(double.NaN); }
            };
            var rng = new Rng(o.Seed + 11);
            trainer.Fit(model, _ => Enumerable.Range(0, 300).Select(_ => Batch(Synthetic.AddingProblem(o.Batch, o.Length, rng), o.Length)));
            norms[name] = list;
            double mse = Evaluate(model, testBatch);
            var finite = list.Where(double.IsFinite).ToList();
            Console.WriteLine($"  {name,-14}: gradient norm before clipping: first {list[0]:E2}, max {finite.Max():E2}, median of the last 100 {Median(finite.TakeLast(100)):E2}; " +
                              $"{skipped} non-finite steps skipped; final test MSE {mse:G4}");
        }
        int rows = norms.Values.Max(l => l.Count);
        WriteCsv(Path.Combine(o.Output, "exploding-gradient-norm.csv"), "step," + string.Join(",", norms.Keys),
            Enumerable.Range(0, rows).Select(i => $"{i + 1}," + string.Join(",", norms.Values.Select(l => i < l.Count ? l[i].ToString("R", inv) : ""))));
        Chart(Path.Combine(o.Output, "adding-problem-test-mse.csv"), $"Adding problem, T = {o.Length}: test MSE while training", "training step", "test MSE", false, ScottPlot.Alignment.UpperRight);
        Chart(Path.Combine(o.Output, "gradient-flow.csv"), $"||dL/dh_t|| over time steps t (loss at t = {o.Length - 1})", "time step t", "||dL/dh_t||", true, ScottPlot.Alignment.LowerRight);
        Chart(Path.Combine(o.Output, "exploding-gradient-norm.csv"), "Gradient norm before clipping: tanh RNN, large recurrent weights, SGD 0.1", "step", "global gradient norm", true, ScottPlot.Alignment.UpperRight);
        Console.WriteLine($"curves (CSV) and charts (PNG) written to {Path.GetFullPath(o.Output)}");
    }

    private static void Chart(string csv, string title, string xLabel, string yLabel, bool logY, ScottPlot.Alignment legend)
    {
        var (_, series) = Reporting.Plots.ReadCsv(csv);
        Reporting.Plots.Lines(Path.ChangeExtension(csv, ".png"), title, xLabel, yLabel, series, logY, legend);
    }

    private static RegressionBatch Batch((float[][] X, float[] Y) d, int length) => Batch(d.X, d.Y, length);

    private static RegressionBatch Batch(float[][] x, float[] y, int length)
    {
        var inputs = new Tensor(x.Length, length, 2);
        for (int i = 0; i < x.Length; i++) x[i].CopyTo(inputs.Span.Slice(i * length * 2));
        return new RegressionBatch { Inputs = inputs, Targets = Tensor.FromArray((float[])y.Clone(), y.Length, 1) };
    }

    private static double Evaluate(SequenceRegressor model, RegressionBatch test)
    {
        Tensor p;
        using (model.EvaluationMode()) p = model.Predict(test.Inputs);
        return Metrics.Rmse(p.Span, test.Targets.Span) is var r ? r * r : 0;
    }

    private static double Mse(float[] y, Func<int, float> predict)
    {
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += (predict(i) - y[i]) * (double)(predict(i) - y[i]);
        return s / y.Length;
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToList();
        return v.Count == 0 ? double.NaN : v[v.Count / 2];
    }

    private static void WriteCsv(string path, string header, IEnumerable<string> rows) =>
        Recur.AtomicFile.Write(path, fs =>
        {
            using var w = new StreamWriter(fs, new UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
            w.WriteLine(header);
            foreach (var r in rows) w.WriteLine(r);
        });
}
