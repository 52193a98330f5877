using System.Diagnostics;
using System.Globalization;
using Recur.Data;
using Recur.IO;
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
/// With <c>--model FILE --list TSV</c> it times a trained recogniser on real utterances instead (<see cref="RunModel"/>).
/// </summary>
public static class StreamBenchmark
{
    public static int Run(string[] args)
    {
        double chunkMs = 100, seconds = 10;
        int rounds = 3, hidden = 256, proj = 128, layers = 2, files = 50;
        string? modelPath = null, listPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--chunk-ms": chunkMs = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--audio-seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--threads": Parallelism.ThreadCount = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--model": modelPath = args[++i]; break;
                case "--list": listPath = args[++i]; break;
                case "--files": files = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'. Usage: transcribe-stream [--chunk-ms 100] [--audio-seconds 10] [--rounds 3] [--threads N] [--model FILE --list TSV [--files 50]]");
                    return 2;
            }
        }
        if ((modelPath is null) != (listPath is null))
        {
            Console.Error.WriteLine("transcribe-stream: --model and --list go together (a trained recogniser and the path<TAB>text list of the utterances to time)");
            return 2;
        }
        if (modelPath is not null) return RunModel(modelPath, listPath!, files, chunkMs);
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

    /// <summary>
    /// Latency of a trained recogniser (<c>recur train --task asr</c>) on the first <paramref name="files"/> utterances
    /// of a transcript list, as a user meets it, for greedy decoding and for a prefix beam search of 8 without and with
    /// the digits:3-7 grammar. A unidirectional model is fed each utterance in chunks of <paramref name="chunkMs"/> through
    /// <see cref="StreamingRecognizer"/>: the time of each <c>Push</c> (per-chunk latency) and of <c>Finish</c> (the
    /// final result's latency after the end of the audio). A bidirectional model cannot start before the audio ends,
    /// so its final-result latency is the whole-utterance <see cref="ModelBundle.Transcribe(ReadOnlySpan{float}, int, CtcPrefixBeamSearch?)"/>
    /// (features, network, decoding) after the end of the audio. Each utterance runs once untimed first (warm-up);
    /// the utterance accuracy of the timed results is printed as a check that the model is the trained one.
    /// </summary>
    private static int RunModel(string modelPath, string listPath, int files, double chunkMs)
    {
        var bundle = ModelFile.Load(modelPath);
        var front = bundle.SpeechFeatures() ?? throw new ArgumentException($"{modelPath}: not a speech recogniser (recur train --task asr)");
        var model = (SpeechRecognizer)bundle.Model;
        var chars = new CharacterSet(bundle.Labels!);
        var list = Transcripts.Read(listPath).Take(files).ToList();
        var audio = list.Select(u => SpeechAudio.Read(u.File, front.SampleRate)).ToArray();
        int rate = front.SampleRate, chunk = (int)Math.Round(chunkMs * rate / 1000);
        double audioSeconds = audio.Sum(a => a.Length) / (double)rate;
        var digitLabels = Enumerable.Range(0, 10).Select(d => chars.Encode(d.ToString(CultureInfo.InvariantCulture), "digits")[0]);
        var grammar = CtcConstraint.DigitStrings(digitLabels, 3, 7, separator: chars.Encode(" ", "space")[0]);
        var decoders = new (string Name, CtcPrefixBeamSearch? Search)[] { ("greedy", null), ("beam 8", new CtcPrefixBeamSearch(8)), ("beam 8 + digits:3-7", new CtcPrefixBeamSearch(8, grammar)) };
        var enc = model.Config.Encoder;
        Console.WriteLine($"Recur streaming benchmark (trained model): {Environment.ProcessorCount} logical cores, {Parallelism.ThreadCount} threads, .NET {Environment.Version}");
        Console.WriteLine($"model: {modelPath}: {enc.Cell} {(enc.Bidirectional ? "bidirectional" : "unidirectional")} {enc.Layers} x {enc.HiddenSize}{(enc.ProjSize > 0 ? $", proj {enc.ProjSize}" : "")}; {front.Width} inputs per step");
        Console.WriteLine($"audio: {list.Count} utterances of {listPath} ({audioSeconds:F1} s, {audioSeconds / list.Count:F2} s each on average){(model.CanStream ? $" in chunks of {chunkMs} ms ({chunk} samples)" : ", whole utterances (a bidirectional model cannot stream)")}");
        Console.WriteLine($"{"decoder",-22} {"chunk_median_ms",15} {"chunk_p95_ms",12} {"chunk_max_ms",12} {"final_median_ms",15} {"final_p95_ms",12} {"final_max_ms",12} {"rtf",7} {"utt_acc",7}");
        foreach (var (name, search) in decoders)
        {
            var chunkTimes = new List<double>();
            var finalTimes = new List<double>();
            double total = 0;
            int correct = 0;
            var clock = new Stopwatch();
            for (int u = 0; u < list.Count; u++)
            {
                string text = "";
                for (int pass = 0; pass < 2; pass++)
                {
                    bool timed = pass == 1;
                    if (model.CanStream)
                    {
                        var live = bundle.CreateStreamingRecognizer(search);
                        for (int start = 0; start < audio[u].Length; start += chunk)
                        {
                            clock.Restart();
                            live.Push(audio[u].AsSpan(start, Math.Min(chunk, audio[u].Length - start)));
                            clock.Stop();
                            if (timed) { chunkTimes.Add(clock.Elapsed.TotalMilliseconds); total += clock.Elapsed.TotalMilliseconds; }
                        }
                        clock.Restart();
                        text = live.Finish();
                        clock.Stop();
                    }
                    else
                    {
                        clock.Restart();
                        text = bundle.Transcribe(audio[u], rate, search);
                        clock.Stop();
                    }
                    if (timed) { finalTimes.Add(clock.Elapsed.TotalMilliseconds); total += clock.Elapsed.TotalMilliseconds; }
                }
                if (text == list[u].Text) correct++;
            }
            static string Q(List<double> t, double q) => t.Count == 0 ? "-" : t.Order().ElementAt((int)(q * (t.Count - 1))).ToString("F3", CultureInfo.InvariantCulture);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-22} {Q(chunkTimes, 0.5),15} {Q(chunkTimes, 0.95),12} {Q(chunkTimes, 1),12} {Q(finalTimes, 0.5),15} {Q(finalTimes, 0.95),12} {Q(finalTimes, 1),12} {total / (audioSeconds * 1000),7:F4} {correct / (double)list.Count,7:F3}"));
        }
        return 0;
    }
}
