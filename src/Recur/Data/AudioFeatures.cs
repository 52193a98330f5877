using System.Numerics;

namespace Recur.Data;

/// <summary>Settings of <see cref="AudioFeatures"/>. The defaults are the usual speech front end.</summary>
public sealed record FeatureOptions
{
    /// <summary>Analysis window length in seconds (25 ms).</summary>
    public double WindowSeconds { get; init; } = 0.025;
    /// <summary>Hop between windows in seconds (10 ms).</summary>
    public double HopSeconds { get; init; } = 0.010;
    /// <summary>Mel filters.</summary>
    public int MelBands { get; init; } = 40;
    /// <summary>Cepstral coefficients kept (0: log-mel output instead of MFCC).</summary>
    public int Coefficients { get; init; } = 13;
    /// <summary>Lowest filter edge in Hz.</summary>
    public double MinFrequency { get; init; }
    /// <summary>Highest filter edge in Hz (null: half the sample rate).</summary>
    public double? MaxFrequency { get; init; }
    /// <summary>Pre-emphasis coefficient (x[n] - a x[n-1]; 0 turns it off).</summary>
    public double PreEmphasis { get; init; } = 0.97;
}

/// <summary>
/// Log-mel and MFCC frames: pre-emphasis, a Hamming window per frame, the power spectrum |FFT|^2 / N (FftSharp, zero
/// padding to a power of two), triangular filters evenly spaced on the HTK mel scale (mel = 2595 log10(1 + f/700)),
/// the natural log of each band's energy (floored at 1e-10), and for MFCC an orthonormal DCT-II keeping the first
/// coefficients. A signal shorter than one window gives one zero-padded frame.
/// </summary>
public sealed class AudioFeatures
{
    private readonly int window, hop, fftSize;
    private readonly double[] hamming;
    private readonly double[][] filters; // per band: weights over FFT bins 0..fftSize/2
    private readonly double[,]? dct;

    /// <summary>Prepares the window, filterbank and DCT for a sample rate.</summary>
    public AudioFeatures(int sampleRate, FeatureOptions? options = null)
    {
        Options = options ?? new FeatureOptions();
        if (sampleRate < 1) throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "sample rate must be >= 1");
        SampleRate = sampleRate;
        window = Math.Max(1, (int)Math.Round(Options.WindowSeconds * sampleRate));
        hop = Math.Max(1, (int)Math.Round(Options.HopSeconds * sampleRate));
        fftSize = (int)BitOperations.RoundUpToPowerOf2((uint)window);
        hamming = Enumerable.Range(0, window).Select(n => window == 1 ? 1.0 : 0.54 - 0.46 * Math.Cos(2 * Math.PI * n / (window - 1))).ToArray();
        double fMax = Options.MaxFrequency ?? sampleRate / 2.0;
        if (!(Options.MinFrequency >= 0 && Options.MinFrequency < fMax && fMax <= sampleRate / 2.0))
            throw new ArgumentOutOfRangeException(nameof(options), $"need 0 <= MinFrequency < MaxFrequency <= {sampleRate / 2.0} Hz");
        if (Options.MelBands < 1) throw new ArgumentOutOfRangeException(nameof(options), Options.MelBands, "MelBands must be >= 1");
        if (Options.Coefficients < 0 || Options.Coefficients > Options.MelBands) throw new ArgumentOutOfRangeException(nameof(options), Options.Coefficients, "Coefficients must be in [0, MelBands]");
        Centers = new double[Options.MelBands];
        filters = MelFilters(sampleRate, fftSize, Options.MelBands, Options.MinFrequency, fMax, Centers);
        if (Options.Coefficients > 0)
        {
            int m = Options.MelBands;
            dct = new double[Options.Coefficients, m];
            for (int k = 0; k < Options.Coefficients; k++)
                for (int n = 0; n < m; n++)
                    dct[k, n] = Math.Sqrt((k == 0 ? 1.0 : 2.0) / m) * Math.Cos(Math.PI * k * (n + 0.5) / m);
        }
    }

    /// <summary>The options.</summary>
    public FeatureOptions Options { get; }
    /// <summary>Sample rate the features were prepared for.</summary>
    public int SampleRate { get; }
    /// <summary>Centre frequency of each mel band, Hz.</summary>
    public double[] Centers { get; }
    /// <summary>Values per frame: coefficients, or mel bands for log-mel output.</summary>
    public int Width => Options.Coefficients > 0 ? Options.Coefficients : Options.MelBands;

    /// <summary>Hz to mel (HTK).</summary>
    public static double HzToMel(double hz) => 2595 * Math.Log10(1 + hz / 700);
    /// <summary>Mel to Hz (HTK).</summary>
    public static double MelToHz(double mel) => 700 * (Math.Pow(10, mel / 2595) - 1);

    private static double[][] MelFilters(int rate, int n, int bands, double fMin, double fMax, double[] centers)
    {
        double mMin = HzToMel(fMin), mMax = HzToMel(fMax);
        var edges = Enumerable.Range(0, bands + 2).Select(i => MelToHz(mMin + (mMax - mMin) * i / (bands + 1))).ToArray();
        var result = new double[bands][];
        for (int b = 0; b < bands; b++)
        {
            centers[b] = edges[b + 1];
            result[b] = new double[n / 2 + 1];
            for (int k = 0; k <= n / 2; k++)
            {
                double f = (double)k * rate / n;
                double w = f <= edges[b + 1] ? (f - edges[b]) / (edges[b + 1] - edges[b]) : (edges[b + 2] - f) / (edges[b + 2] - edges[b + 1]);
                result[b][k] = Math.Max(0, w);
            }
        }
        return result;
    }

    /// <summary>Number of frames for a signal of <paramref name="samples"/> samples.</summary>
    public int FrameCount(int samples) => samples <= window ? 1 : 1 + (samples - window + hop - 1) / hop;

    /// <summary>Samples per analysis window.</summary>
    public int WindowSamples => window;

    /// <summary>Samples between the starts of consecutive frames.</summary>
    public int HopSamples => hop;

    /// <summary>Features (frames, Width), row-major.</summary>
    public float[] Compute(ReadOnlySpan<float> signal)
    {
        int frames = FrameCount(signal.Length);
        var output = new float[frames * Width];
        var scratch = new FrameScratch(this);
        for (int f = 0; f < frames; f++)
        {
            int start = f * hop;
            var available = signal[Math.Min(start, signal.Length)..Math.Min(start + window, signal.Length)];
            ComputeFrame(available, start > 0 && start <= signal.Length ? signal[start - 1] : 0f, output.AsSpan(f * Width, Width), scratch);
        }
        return output;
    }

    /// <summary>Buffers one frame's computation reuses (an FFT buffer and the log-mel energies).</summary>
    internal sealed class FrameScratch(AudioFeatures owner)
    {
        /// <summary>FFT input and output.</summary>
        public readonly Complex[] Spectrum = new Complex[owner.fftSize];
        /// <summary>Log energy per mel band.</summary>
        public readonly double[] LogMel = new double[owner.Options.MelBands];
    }

    /// <summary>
    /// One frame into <paramref name="row"/> (Width values): <paramref name="samples"/> are the window's samples that
    /// exist (fewer than a window at the end of the signal: the rest is zero), <paramref name="previous"/> the sample
    /// before the window (0 at the start), which pre-emphasis needs. The offline and the streaming extractor both call
    /// this, so their frames are the same bit for bit.
    /// </summary>
    internal void ComputeFrame(ReadOnlySpan<float> samples, float previous, Span<float> row, FrameScratch scratch)
    {
        int bands = Options.MelBands;
        var spectrum = scratch.Spectrum;
        var logMel = scratch.LogMel;
        for (int i = 0; i < fftSize; i++)
        {
            double x = 0;
            if (i < window && i < samples.Length)
            {
                x = samples[i];
                if (Options.PreEmphasis != 0) x -= Options.PreEmphasis * (i > 0 ? samples[i - 1] : previous);
                x *= hamming[i];
            }
            spectrum[i] = new Complex(x, 0);
        }
        FftSharp.FFT.Forward(spectrum.AsSpan());
        for (int b = 0; b < bands; b++)
        {
            double e = 0;
            var w = filters[b];
            for (int k = 0; k <= fftSize / 2; k++)
                if (w[k] != 0) e += w[k] * (spectrum[k].Real * spectrum[k].Real + spectrum[k].Imaginary * spectrum[k].Imaginary) / fftSize;
            logMel[b] = Math.Log(Math.Max(e, 1e-10));
        }
        if (dct is null)
            for (int b = 0; b < bands; b++) row[b] = (float)logMel[b];
        else
            for (int k = 0; k < Width; k++)
            {
                double s = 0;
                for (int b = 0; b < bands; b++) s += dct[k, b] * logMel[b];
                row[k] = (float)s;
            }
    }
}
