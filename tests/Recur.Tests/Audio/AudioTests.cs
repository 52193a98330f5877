using System.Numerics;
using Recur.Data;
using Recur.IO;
using Recur.Tests.Data;

namespace Recur.Tests.Audio;

public class WavTests
{
    [Fact]
    public void Reads16And8BitMonoPcm()
    {
        float[] x = [0f, 0.5f, -0.5f, 0.25f];
        var a = Wav.Parse(Wav.Write16(x, 8000), "t.wav");
        Assert.Equal(8000, a.SampleRate);
        Assert.Equal(x, a.Samples);

        var b8 = Wav.Write16([0f, 0f], 16000);
        // Rewrite as 8-bit: format fields and the two bytes of data 128 (zero) and 192 (+0.5).
        b8[32] = 1; b8[34] = 8; b8[40] = 2; b8[44] = 128; b8[45] = 192;
        var eight = Wav.Parse(b8[..46], "8bit.wav");
        Assert.Equal([0f, 0.5f], eight.Samples);
    }

    [Theory]
    [InlineData("stereo", "'channels'", "expected mono")]
    [InlineData("float", "'format'", "expected PCM")]
    [InlineData("truncated", "'data' chunk", "truncated file")]
    [InlineData("not-riff", "header", "RIFF")]
    [InlineData("24bit", "'bits per sample'", "expected 8 or 16")]
    public void RejectsWhatItCannotReadWithAClearMessage(string kind, string field, string message)
    {
        var b = Wav.Write16(new float[100], 8000);
        switch (kind)
        {
            case "stereo": b[22] = 2; break;
            case "float": b[20] = 3; break;
            case "truncated": b = b[..120]; break;
            case "not-riff": b[0] = (byte)'X'; break;
            case "24bit": b[34] = 24; break;
        }
        var e = Assert.Throws<RecurFormatException>(() => Wav.Parse(b, "clip.wav"));
        Assert.StartsWith("clip.wav: ", e.Message);
        Assert.Contains(field, e.Message);
        Assert.Contains(message, e.Message);
    }
}

public class FeatureTests
{
    private static float[] Tone(double hz, int rate, int n, double amplitude = 0.5) =>
        Enumerable.Range(0, n).Select(i => (float)(amplitude * Math.Sin(2 * Math.PI * hz * i / rate))).ToArray();

    [Theory]
    [InlineData(300.0)]
    [InlineData(1000.0)]
    [InlineData(2500.0)]
    public void APureToneLandsInTheMelBandCentredNearestToIt(double hz)
    {
        var f = new AudioFeatures(8000, new FeatureOptions { Coefficients = 0, PreEmphasis = 0 });
        var logMel = f.Compute(Tone(hz, 8000, 4000));
        int frames = logMel.Length / f.Width, mid = frames / 2;
        var row = logMel.AsSpan(mid * f.Width, f.Width);
        int loudest = TensorPrimitives.IndexOfMax(row);
        int nearest = Enumerable.Range(0, f.Width).OrderBy(b => Math.Abs(f.Centers[b] - hz)).First();
        Assert.InRange(loudest, nearest - 1, nearest + 1);
        Assert.True(row[loudest] > row[(loudest + f.Width / 2) % f.Width] + 5, "the tone's band should be far louder than a distant band");
    }

    [Fact]
    public void MatchesAnIndependentNaiveDftComputation()
    {
        // A generated signal: two tones and a chirp. The reference below uses a direct O(N^2) DFT in float64.
        int rate = 8000, n = 1000;
        var x = Enumerable.Range(0, n).Select(i => (float)(0.3 * Math.Sin(2 * Math.PI * 440 * i / rate) + 0.2 * Math.Cos(2 * Math.PI * 1800 * i / rate)
                                                             + 0.1 * Math.Sin(2 * Math.PI * (100 + 0.5 * i) * i / rate))).ToArray();
        var opts = new FeatureOptions { MelBands = 20, Coefficients = 13 };
        var f = new AudioFeatures(rate, opts);
        var mfcc = f.Compute(x);

        int window = 200, hop = 80, nfft = 256, bands = 20;
        int frames = 1 + (n - window + hop - 1) / hop;
        Assert.Equal(frames * 13, mfcc.Length);
        double mel(double h) => 2595 * Math.Log10(1 + h / 700);
        double hz(double m) => 700 * (Math.Pow(10, m / 2595) - 1);
        var edges = Enumerable.Range(0, bands + 2).Select(i => hz(mel(4000) * i / (bands + 1))).ToArray();
        double worst = 0;
        for (int fr = 0; fr < frames; fr++)
        {
            var frame = new double[nfft];
            for (int i = 0; i < window; i++)
            {
                int j = fr * hop + i;
                if (j >= n) break;
                double v = x[j] - 0.97 * (j > 0 ? x[j - 1] : 0);
                frame[i] = v * (0.54 - 0.46 * Math.Cos(2 * Math.PI * i / (window - 1)));
            }
            var power = new double[nfft / 2 + 1];
            for (int k = 0; k <= nfft / 2; k++)
            {
                Complex s = 0;
                for (int t = 0; t < nfft; t++) s += frame[t] * Complex.Exp(new Complex(0, -2 * Math.PI * k * t / nfft));
                power[k] = s.Magnitude * s.Magnitude / nfft;
            }
            var logMel = new double[bands];
            for (int b = 0; b < bands; b++)
            {
                double e = 0;
                for (int k = 0; k <= nfft / 2; k++)
                {
                    double fk = (double)k * rate / nfft;
                    double w = fk <= edges[b + 1] ? (fk - edges[b]) / (edges[b + 1] - edges[b]) : (edges[b + 2] - fk) / (edges[b + 2] - edges[b + 1]);
                    e += Math.Max(0, w) * power[k];
                }
                logMel[b] = Math.Log(Math.Max(e, 1e-10));
            }
            for (int c = 0; c < 13; c++)
            {
                double s = 0;
                for (int b = 0; b < bands; b++) s += Math.Sqrt((c == 0 ? 1.0 : 2.0) / bands) * Math.Cos(Math.PI * c * (b + 0.5) / bands) * logMel[b];
                worst = Math.Max(worst, Math.Abs(s - mfcc[fr * 13 + c]) / (1 + Math.Abs(s)));
            }
        }
        Assert.True(worst < 1e-4, $"largest relative difference {worst}");
    }

    [Fact]
    public void ShortSignalsGiveOneFrameAndSilenceIsTheLogFloor()
    {
        var f = new AudioFeatures(8000, new FeatureOptions { Coefficients = 0 });
        var logMel = f.Compute(new float[50]);
        Assert.Equal(f.Width, logMel.Length);
        Assert.All(logMel, v => Assert.Equal((float)Math.Log(1e-10), v, 4));
    }
}
