namespace Recur.Tests.Reference;

/// <summary>Naive float64 twins of the feed-forward layers, activations and losses, written from their definitions.</summary>
public static class LayerReference
{
    // y[n, o] = sum_i x[n, i] W[o, i] + b[o]
    public static double[] LinearForward(double[] x, double[] w, double[]? b, int n, int inF, int outF)
    {
        var y = new double[n * outF];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < outF; o++)
            {
                double s = b?[o] ?? 0;
                for (int i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
                y[r * outF + o] = s;
            }
        return y;
    }

    public static (double[] Dx, double[] Dw, double[] Db) LinearBackward(double[] x, double[] w, double[] dy, int n, int inF, int outF)
    {
        var dx = new double[n * inF];
        var dw = new double[outF * inF];
        var db = new double[outF];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < outF; o++)
            {
                double g = dy[r * outF + o];
                db[o] += g;
                for (int i = 0; i < inF; i++)
                {
                    dw[o * inF + i] += g * x[r * inF + i];
                    dx[r * inF + i] += g * w[o * inF + i];
                }
            }
        return (dx, dw, db);
    }

    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    public static double[] Softmax(double[] x, int rows, int c)
    {
        var y = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double m = double.NegativeInfinity;
            for (int j = 0; j < c; j++) m = Math.Max(m, x[r * c + j]);
            double s = 0;
            for (int j = 0; j < c; j++) s += Math.Exp(x[r * c + j] - m);
            for (int j = 0; j < c; j++) y[r * c + j] = Math.Exp(x[r * c + j] - m) / s;
        }
        return y;
    }

    /// <summary>Mean cross-entropy with ignore index and label smoothing, and its gradient.</summary>
    public static (double Loss, double[] Grad) CrossEntropy(double[] logits, int[] target, int rows, int c, int ignore, double smoothing)
    {
        var p = Softmax(logits, rows, c);
        var grad = new double[logits.Length];
        int counted = target.Count(t => t != ignore);
        if (counted == 0) return (0, grad);
        double loss = 0;
        for (int r = 0; r < rows; r++)
        {
            if (target[r] == ignore) continue;
            for (int j = 0; j < c; j++)
            {
                double q = (j == target[r] ? 1 - smoothing : 0) + smoothing / c; // smoothed target distribution
                loss -= q * Math.Log(p[r * c + j]);
                grad[r * c + j] = (p[r * c + j] - q) / counted;
            }
        }
        return (loss / counted, grad);
    }

    public static (double Loss, double[] Grad) Mse(double[] pred, double[] target)
    {
        int n = pred.Length;
        double loss = 0;
        var g = new double[n];
        for (int i = 0; i < n; i++)
        {
            double e = pred[i] - target[i];
            loss += e * e;
            g[i] = 2 * e / n;
        }
        return (loss / n, g);
    }

    public static (double Loss, double[] Grad) BceWithLogits(double[] x, double[] y)
    {
        int n = x.Length;
        double loss = 0;
        var g = new double[n];
        for (int i = 0; i < n; i++)
        {
            double p = Sigmoid(x[i]);
            loss -= y[i] * Math.Log(p) + (1 - y[i]) * Math.Log(1 - p);
            g[i] = (p - y[i]) / n;
        }
        return (loss / n, g);
    }
}
