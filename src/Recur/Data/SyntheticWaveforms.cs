using Recur.Tensors;

namespace Recur.Data;

/// <summary>Generated numeric sequences: each a noisy periodic waveform seen by two sensors, with its shape and period.</summary>
/// <param name="Sequences">Each sequence's steps, (T_i * 2) row-major: sensor 0 and sensor 1 at every step.</param>
/// <param name="Shapes">The waveform of each sequence: "sine", "square" or "sawtooth" (the class to learn).</param>
/// <param name="Periods">The period of each sequence in steps (a regression target).</param>
public sealed record WaveformSet(float[][] Sequences, string[] Shapes, float[] Periods)
{
    /// <summary>Features per step.</summary>
    public const int Features = 2;
}

/// <summary>
/// A seeded, meaningful task for numeric multivariate sequences: tell a sine, a square and a sawtooth wave apart,
/// whatever their period (4 to 16 steps), phase, amplitude (0.5 to 2), offset (-1 to 1) and length, under Gaussian
/// noise. Sensor 0 reads the wave, sensor 1 the same wave a quarter period later at half the amplitude, each with its
/// own noise (standard deviation <c>noise</c> times the amplitude). Telling the shapes apart needs several periods of
/// context; a single step says nothing (every shape takes every value).
/// </summary>
public static class SyntheticWaveforms
{
    /// <summary>The three classes, in the order the generator cycles through them.</summary>
    public static IReadOnlyList<string> Shapes { get; } = ["sine", "square", "sawtooth"];

    /// <summary>
    /// <paramref name="count"/> sequences, shapes in turn (so the classes are balanced), lengths uniform in
    /// [<paramref name="minLength"/>, <paramref name="maxLength"/>].
    /// </summary>
    public static WaveformSet Generate(int count, Rng rng, int minLength = 20, int maxLength = 60, double noise = 0.25)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(minLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, minLength);
        var sequences = new float[count][];
        var shapes = new string[count];
        var periods = new float[count];
        for (int i = 0; i < count; i++)
        {
            int shape = i % 3;
            int length = minLength + rng.NextInt(maxLength - minLength + 1);
            double period = 4 + 12 * rng.NextDouble(), phase = rng.NextDouble(), amplitude = 0.5 + 1.5 * rng.NextDouble(), offset = 2 * rng.NextDouble() - 1;
            var x = new float[length * WaveformSet.Features];
            for (int t = 0; t < length; t++)
            {
                double u = t / period + phase;
                x[t * 2] = (float)(offset + amplitude * (Wave(shape, u) + noise * rng.NextNormal()));
                x[t * 2 + 1] = (float)(offset + amplitude * (0.5 * Wave(shape, u + 0.25) + noise * rng.NextNormal()));
            }
            sequences[i] = x;
            shapes[i] = Shapes[shape];
            periods[i] = (float)period;
        }
        return new WaveformSet(sequences, shapes, periods);
    }

    /// <summary>The wave at phase <paramref name="u"/> (in periods), in [-1, 1].</summary>
    private static double Wave(int shape, double u)
    {
        double f = u - Math.Floor(u);
        return shape switch
        {
            0 => Math.Sin(2 * Math.PI * f),
            1 => f < 0.5 ? 1 : -1,
            _ => 2 * f - 1,
        };
    }
}
