using System.Diagnostics;
using System.Globalization;
using Recur.Data;
using Recur.Kernels;
using Recur.Models;
using Recur.Models.Decoding;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Bench;

/// <summary>
/// Per-chunk latency of streaming recognition: a unidirectional LSTMP recogniser (untrained, seeded weights: the time
/// does not depend on what they learned) behind the speech front end (MFCC + deltas + delta-deltas, 3 frames stacked
/// per step), fed a seeded 8 kHz signal in chunks of --chunk-ms (default 100) through <see cref="StreamingRecognizer"/>.
/// For greedy decoding and for a prefix beam search (8 prefixes, digit-string grammar), the median, 95th percentile
/// and largest time of one <c>Push</c>, and the real-time factor (compute time / audio time). The decoders are run in
/// alternating rounds so that load on a shared machine falls on both alike.
/// </summary>
public static class StreamBenchmark
{
    public static int Run(string[] args)
    {
        double chunkMs = 100, seconds = 10;
        int rounds = 3, hidden = 256, proj = 128, layers = 2;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--chunk-ms": chunkMs = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--audio-seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--threads": Parallelism.ThreadCount = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'. Usage: transcribe-stream [--chunk-ms 100] [--audio-seconds 10] [--rounds 3] [--threads N]");
                    return 2;
            }
        }
        const int rate = 8000;
        var front = new SpeechFeatures(rate, new SpeechFeatureOptions { DeltaOrder = 2, Stack = 3 });
        var chars = new CharacterSet(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", " "]);
        var model = new SpeechRecognizer(new RecognizerConfig
        {
            Encoder = new EncoderConfig { InputFeatures = front.Width, Cell = RecurrentMode.Lstm, HiddenSize = hidden, ProjSize = proj, Layers = layers },
            Classes = chars.Count,
        }, new Rng(1));
        var rng = new Rng(2);
        var signal = Enumerable.Range(0, (int)(seconds * rate))
            .Select(i => (float)(0.3 * Math.Sin(2 * Math.PI * (300 + (i / 1600) % 7 * 150) * i / rate) + 0.05 * rng.NextNormal())).ToArray();
        int chunk = (int)Math.Round(chunkMs * rate / 1000);
        var digits = CtcConstraint.DigitStrings(Enumerable.Range(1, 10), 1, 20, separator: 11);
        var decoders = new (string Name, CtcPrefixBeamSearch? Search)[] { ("greedy", null), ("beam 8 + digits grammar", new CtcPrefixBeamSearch(8, digits)) };
        var times = decoders.Select(_ => new List<double>()).ToArray();
        var totals = new double[decoders.Length];
        Console.WriteLine($"Recur streaming benchmark: {Environment.ProcessorCount} logical cores, {Parallelism.ThreadCount} threads, .NET {Environment.Version}");
        Console.WriteLine($"model: LSTMP hidden {hidden}, proj {proj}, {layers} layers, unidirectional; {front.Width} inputs per step (13 MFCC x3 with deltas, 3 frames stacked), {chars.Count} classes");
        Console.WriteLine($"audio: {seconds} s at {rate} Hz in chunks of {chunkMs} ms ({chunk} samples); {rounds} rounds after a warm-up");
        for (int round = -1; round < rounds; round++)
            for (int d = 0; d < decoders.Length; d++)
            {
                var live = new StreamingRecognizer(model, front, chars, decoders[d].Search);
                var clock = new Stopwatch();
                for (int start = 0; start < signal.Length; start += chunk)
                {
                    clock.Restart();
                    live.Push(signal.AsSpan(start, Math.Min(chunk, signal.Length - start)));
                    clock.Stop();
                    if (round >= 0) { times[d].Add(clock.Elapsed.TotalMilliseconds); totals[d] += clock.Elapsed.TotalMilliseconds; }
                }
                live.Finish();
            }
        Console.WriteLine($"{"decoder",-26} {"median_ms",10} {"p95_ms",8} {"max_ms",8} {"rtf",7}");
        for (int d = 0; d < decoders.Length; d++)
        {
            var t = times[d].Order().ToArray();
            double rtf = totals[d] / (rounds * seconds * 1000);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{decoders[d].Name,-26} {t[t.Length / 2],10:F3} {t[(int)(0.95 * (t.Length - 1))],8:F3} {t[^1],8:F3} {rtf,7:F4}"));
        }
        return 0;
    }
}
