using Recur.Data;
using Recur.Nn;
using Recur.Scoring;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of a <see cref="Forecaster"/>.</summary>
public sealed record ForecasterConfig
{
    /// <summary>Columns of the series (F); the input at each step is all of them.</summary>
    public required int Features { get; init; }
    /// <summary>The column to forecast.</summary>
    public int Target { get; init; }
    /// <summary>Input window length (steps of history the model sees).</summary>
    public int Window { get; init; } = 12;
    /// <summary>Steps ahead predicted at once (k).</summary>
    public int Horizon { get; init; } = 1;
    /// <summary>The recurrent cell.</summary>
    public RecurrentMode Cell { get; init; } = RecurrentMode.Lstm;
    /// <summary>Hidden units.</summary>
    public int HiddenSize { get; init; } = 32;
    /// <summary>Stacked layers.</summary>
    public int Layers { get; init; } = 1;
    /// <summary>Dropout between layers.</summary>
    public float Dropout { get; init; }
    /// <summary>
    /// Model first differences (y[t] - y[t-1]) instead of levels; forecasts are summed back onto the last observed
    /// value. Lets a model trained on one range follow a trend beyond it.
    /// </summary>
    public bool Difference { get; init; }

    /// <summary>Checks the configuration, naming the field.</summary>
    public void Validate()
    {
        if (Features < 1) throw new ArgumentOutOfRangeException(nameof(Features), Features, "Features must be >= 1");
        if ((uint)Target >= (uint)Features) throw new ArgumentOutOfRangeException(nameof(Target), Target, $"Target must be a column in [0, {Features})");
        if (Window < 1) throw new ArgumentOutOfRangeException(nameof(Window), Window, "Window must be >= 1");
        if (Horizon < 1) throw new ArgumentOutOfRangeException(nameof(Horizon), Horizon, "Horizon must be >= 1");
    }
}

/// <summary>A batch of windows: inputs (B, W, F) normalised, targets (B, k) normalised.</summary>
public sealed class ForecastBatch
{
    /// <summary>Normalised input windows (B, W, F).</summary>
    public required Tensor Inputs { get; init; }
    /// <summary>Normalised targets (B, k).</summary>
    public required Tensor Targets { get; init; }
}

/// <summary>Forecasts of a test part with the model and the naive, seasonal-naive and mean baselines, in original units.</summary>
/// <param name="Origins">Forecast origins (index of the last observed step).</param>
/// <param name="Model">Model forecasts, (origins, k).</param>
/// <param name="Naive">Last observed value, (origins, k).</param>
/// <param name="SeasonalNaive">The value one season earlier, (origins, k); null without a season.</param>
/// <param name="Actual">True values, (origins, k).</param>
/// <param name="Horizon">Steps ahead (k).</param>
/// <param name="Mean">The mean of the observed values of the training part, (origins, k); null when not computed.</param>
public sealed record ForecastReport(int[] Origins, float[] Model, float[] Naive, float[]? SeasonalNaive, float[] Actual, int Horizon, float[]? Mean = null)
{
    /// <summary>MAE of the model over all horizons.</summary>
    public double ModelMae => Metrics.Mae(Model, Actual);
    /// <summary>RMSE of the model over all horizons.</summary>
    public double ModelRmse => Metrics.Rmse(Model, Actual);
    /// <summary>MAE of the last-value forecast.</summary>
    public double NaiveMae => Metrics.Mae(Naive, Actual);
    /// <summary>RMSE of the last-value forecast.</summary>
    public double NaiveRmse => Metrics.Rmse(Naive, Actual);
    /// <summary>MAE of the seasonal-naive forecast.</summary>
    public double SeasonalNaiveMae => SeasonalNaive is null ? double.NaN : Metrics.Mae(SeasonalNaive, Actual);
    /// <summary>RMSE of the seasonal-naive forecast.</summary>
    public double SeasonalNaiveRmse => SeasonalNaive is null ? double.NaN : Metrics.Rmse(SeasonalNaive, Actual);
    /// <summary>MAE of the mean forecast (the training part's mean for every target).</summary>
    public double MeanMae => Mean is null ? double.NaN : Metrics.Mae(Mean, Actual);
    /// <summary>RMSE of the mean forecast.</summary>
    public double MeanRmse => Mean is null ? double.NaN : Metrics.Rmse(Mean, Actual);
}

/// <summary>
/// Time-series forecasting: the last <c>Window</c> steps of a univariate or multivariate series, normalised with
/// statistics of the training part only, go through a recurrent stack; a linear layer on the final hidden state
/// predicts the next <c>Horizon</c> values of the target column at once. Trained with MSE on normalised values.
/// </summary>
public sealed class Forecaster : Module, ITrainable<ForecastBatch>
{
    /// <summary>Creates the model; <paramref name="standardizer"/> is fitted on the training part (<see cref="Standardizer.FitColumns"/>).</summary>
    public Forecaster(ForecasterConfig config, Standardizer standardizer, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (standardizer.Mean.Length != config.Features)
            throw new ArgumentException($"standardizer has {standardizer.Mean.Length} columns, the config {config.Features}", nameof(standardizer));
        if (standardizer.Std.Length != config.Features)
            throw new ArgumentException($"standardizer has {standardizer.Std.Length} standard deviations, the config {config.Features} columns", nameof(standardizer));
        Config = config;
        Standardizer = standardizer;
        Rnn = AddModule("rnn", new Recurrent(config.Cell, config.Features, config.HiddenSize, config.Layers, batchFirst: true,
            dropout: config.Layers > 1 ? config.Dropout : 0f, rng: rng.Split()));
        Head = AddModule("head", new Linear(config.HiddenSize, config.Horizon, rng: rng.Split()));
    }

    /// <summary>The configuration.</summary>
    public ForecasterConfig Config { get; }
    /// <summary>Normalisation statistics (training part).</summary>
    public Standardizer Standardizer { get; }
    /// <summary>The recurrent stack.</summary>
    public Recurrent Rnn { get; }
    /// <summary>The output layer (H to k).</summary>
    public Linear Head { get; }
    Module ITrainable<ForecastBatch>.Model => this;

    /// <summary>
    /// Fills missing values (NaN) by linear interpolation between the nearest observed neighbours; leading and
    /// trailing gaps take the nearest observed value. Returns how many values were filled.
    /// </summary>
    public static int Interpolate(float[] column)
    {
        int filled = 0, last = -1;
        for (int i = 0; i < column.Length; i++)
        {
            if (float.IsNaN(column[i])) continue;
            if (last < i - 1)
            {
                for (int j = last + 1; j < i; j++)
                {
                    column[j] = last < 0 ? column[i] : column[last] + (column[i] - column[last]) * (j - last) / (i - last);
                    filled++;
                }
            }
            last = i;
        }
        if (last < 0) throw new ArgumentException("the column has no observed values");
        for (int j = last + 1; j < column.Length; j++) { column[j] = column[last]; filled++; }
        return filled;
    }

    /// <summary>
    /// The series the network sees: the columns themselves, or with <see cref="ForecasterConfig.Difference"/> their first
    /// differences (index t holds y[t] - y[t-1]; index 0 is NaN and never used).
    /// </summary>
    public static float[][] Transform(float[][] columns, bool difference)
    {
        if (!difference) return columns;
        return columns.Select(c =>
        {
            var d = new float[c.Length];
            d[0] = float.NaN;
            for (int i = 1; i < c.Length; i++) d[i] = c[i] - c[i - 1];
            return d;
        }).ToArray();
    }

    /// <summary>First index a window may start at (1 with differencing, whose index 0 is undefined).</summary>
    public int FirstUsable => Config.Difference ? 1 : 0;

    /// <summary>
    /// Windows of the transformed series (<see cref="Transform"/>) ending at each origin (last input step), with
    /// their k targets.
    /// </summary>
    public ForecastBatch Windows(float[][] columns, IReadOnlyList<int> origins)
    {
        int w = Config.Window, f = Config.Features, k = Config.Horizon, n = columns[0].Length;
        var x = new Tensor(origins.Count, w, f);
        var y = new Tensor(origins.Count, k);
        var xs = x.Span;
        var ys = y.Span;
        for (int b = 0; b < origins.Count; b++)
        {
            int o = origins[b];
            if (o - w + 1 < FirstUsable || o + k >= n)
                throw new ArgumentOutOfRangeException(nameof(origins), o, $"origin {o} needs steps [{o - w + 1}, {o + k}] inside [{FirstUsable}, {n})");
            for (int s = 0; s < w; s++)
                for (int c = 0; c < f; c++)
                    xs[(b * w + s) * f + c] = Standardizer.Apply(c, columns[c][o - w + 1 + s]);
            for (int h = 0; h < k; h++) ys[b * k + h] = Standardizer.Apply(Config.Target, columns[Config.Target][o + 1 + h]);
        }
        return new ForecastBatch { Inputs = x, Targets = y };
    }

    /// <summary>Origins usable for training: every window and its k targets inside [FirstUsable, trainEnd).</summary>
    public int[] TrainingOrigins(int trainEnd)
    {
        int first = FirstUsable + Config.Window - 1;
        return Enumerable.Range(first, Math.Max(0, trainEnd - Config.Horizon - first)).ToArray();
    }

    /// <summary>Normalised forecasts (B, k) of a batch of windows.</summary>
    public Tensor PredictNormalized(Tensor inputs)
    {
        using var r = Rnn.Forward(inputs, requiresGrad: false);
        return Head.Forward(TopHidden(r)).Output;
    }

    /// <inheritdoc/>
    public BatchLoss Step(ForecastBatch batch, bool backward) => Step(batch, backward, null);

    /// <summary>
    /// One training (or evaluation) step; with <paramref name="backward"/> and <paramref name="gradientFlow"/>, the backward pass also reports
    /// ||dL/dh_t|| per layer, direction and time step of <see cref="Rnn"/> to <paramref name="gradientFlow"/>.
    /// </summary>
    public BatchLoss Step(ForecastBatch batch, bool backward, IGradientFlowObserver? gradientFlow)
    {
        using var r = Rnn.Forward(batch.Inputs, requiresGrad: backward, inputRequiresGrad: false);   // the windows are data
        var last = TopHidden(r);
        var head = Head.Forward(last);
        var pred = head.Output;
        var dPred = backward ? new Tensor(pred.Shape.ToArray()) : null;
        float l = MseLoss.Forward(pred, batch.Targets, dPred);
        if (backward)
        {
            var dLast = head.Backward(dPred!);
            var dHidden = new Tensor(r.HiddenState.Shape.ToArray());
            int b = last.Dim(0), h = Config.HiddenSize;
            dLast.Span.CopyTo(dHidden.Span.Slice((Config.Layers - 1) * b * h, b * h));
            r.Backward(null, dHidden, gradientFlow: gradientFlow);
        }
        return new BatchLoss(l, batch.Inputs.Dim(0));
    }

    private Tensor TopHidden(RecurrentOutput r)
    {
        int b = r.HiddenState.Dim(1), h = Config.HiddenSize;
        return Tensor.FromArray(r.HiddenState.Span.Slice((Config.Layers - 1) * b * h, b * h).ToArray(), b, h);
    }

    /// <summary>
    /// Forecasts from every origin whose k targets lie in [testStart, n), with the model, the last observed value,
    /// (when <paramref name="season"/> &gt; 0) the value one season before each target, and the mean of the observed
    /// target values in [0, <paramref name="trainEnd"/>) (default: everything before <paramref name="testStart"/>).
    /// Original units; <paramref name="columns"/> are the raw columns (not transformed). Targets flagged in
    /// <paramref name="missing"/> (values that were interpolated, not observed) are reported as NaN and left out of the
    /// metrics, and out of the mean.
    /// </summary>
    public ForecastReport Evaluate(float[][] columns, int testStart, int season = 0, bool[]? missing = null, int? trainEnd = null)
    {
        int n = columns[0].Length, k = Config.Horizon, t = Config.Target;
        int meanEnd = trainEnd ?? testStart;
        if (meanEnd < 1 || meanEnd > testStart) throw new ArgumentOutOfRangeException(nameof(trainEnd), meanEnd, $"trainEnd must be in [1, testStart = {testStart}]");
        double sum = 0;
        int observed = 0;
        for (int i = 0; i < meanEnd; i++)
            if (missing is null || !missing[i]) { sum += columns[t][i]; observed++; }
        float mean = observed > 0 ? (float)(sum / observed) : float.NaN;
        int firstOrigin = Math.Max(testStart - 1, FirstUsable + Config.Window - 1);
        var origins = Enumerable.Range(firstOrigin, Math.Max(0, n - k - firstOrigin)).ToArray();
        if (origins.Length == 0) throw new ArgumentException($"no forecast origin fits a window of {Config.Window} and a horizon of {k} before the test part at {testStart} of {n}");
        Tensor predicted;
        using (EvaluationMode()) predicted = PredictNormalized(Windows(Transform(columns, Config.Difference), origins).Inputs);
        var pred = predicted.Span;
        var model = new float[origins.Length * k];
        var naive = new float[origins.Length * k];
        var seasonal = season > 0 ? new float[origins.Length * k] : null;
        var actual = new float[origins.Length * k];
        var means = new float[origins.Length * k];
        Array.Fill(means, mean);
        var y = columns[t];
        for (int i = 0; i < origins.Length; i++)
        {
            int o = origins[i];
            float level = y[o];
            for (int h = 1; h <= k; h++)
            {
                int j = i * k + h - 1;
                float value = Standardizer.Invert(t, pred[j]);
                // With differencing the model predicts steps; add them up from the last observed level.
                model[j] = Config.Difference ? (level += value) : value;
                naive[j] = y[o];
                if (seasonal is not null)
                {
                    // The most recent observed value in the same phase of the season: target - m * ceil(h / m).
                    int back = season * ((h + season - 1) / season);
                    seasonal[j] = o + h - back >= 0 ? y[o + h - back] : y[o];
                }
                actual[j] = missing is not null && missing[o + h] ? float.NaN : y[o + h];
            }
        }
        return new ForecastReport(origins, model, naive, seasonal, actual, k, means);
    }

    /// <summary>
    /// The next k values after the end of <paramref name="columns"/> (raw, original units; gaps should be filled with
    /// <see cref="Interpolate"/> first), forecast from the last window.
    /// </summary>
    public float[] ForecastNext(float[][] columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        if (columns.Length != Config.Features)
            throw new ArgumentException($"expected {Config.Features} columns as in training, found {columns.Length}", nameof(columns));
        int n = columns[0].Length, w = Config.Window, f = Config.Features, k = Config.Horizon;
        if (n < w + FirstUsable)
            throw new ArgumentException($"expected at least {w + FirstUsable} observations to fill the window, found {n}", nameof(columns));
        var series = Transform(columns, Config.Difference);
        var x = new Tensor(1, w, f);
        for (int s = 0; s < w; s++)
            for (int c = 0; c < f; c++)
            {
                float v = series[c][n - w + s];
                if (!float.IsFinite(v)) throw new ArgumentException($"value {n - w + s} of column {c} in the last window is not finite ({v})", nameof(columns));
                x.Span[s * f + c] = Standardizer.Apply(c, v);
            }
        float[] pred;
        using (EvaluationMode()) pred = PredictNormalized(x).ToArray();
        var result = new float[k];
        float level = columns[Config.Target][n - 1];
        for (int h = 0; h < k; h++)
        {
            float value = Standardizer.Invert(Config.Target, pred[h]);
            result[h] = Config.Difference ? (level += value) : value;
        }
        return result;
    }
}
