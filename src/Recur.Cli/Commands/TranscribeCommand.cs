using System.CommandLine;
using System.Globalization;
using Recur.Cli.Train;

namespace Recur.Cli.Commands;

/// <summary>
/// <c>recur transcribe</c>: speech to text with a recogniser trained by <c>recur train --task asr</c>. Offline, each
/// WAV file gives a line <c>FILE&lt;TAB&gt;TEXT</c>. With <c>--stream</c>, the audio (one WAV file, or raw 16-bit
/// little-endian mono PCM at the model's rate on standard input with <c>-</c>) is fed in chunks through the library's
/// <see cref="StreamingRecognizer"/>, which carries the recurrent state from chunk to chunk; a <c>partial: TEXT</c>
/// line is printed whenever the hypothesis changes, then the final text, which equals the offline transcription.
/// <c>--beam</c> and <c>--grammar</c> (default: the model's training values) choose the decoder, offline and streaming.
/// </summary>
internal static class TranscribeCommand
{
    public static Command Create()
    {
        var cmd = new Command("transcribe", "Transcribe speech with a recogniser (recur train --task asr): WAV files, or --stream a file or raw PCM on standard input ('-')");
        var model = new Option<string>("--model") { Description = "Model file written by `recur train --task asr` (model.recur)", Required = true };
        var files = new Argument<string[]>("file") { Description = "WAV files (PCM 8/16-bit mono at the model's sample rate, .wav.gz too); with --stream one file, or '-' for raw 16-bit little-endian PCM on standard input", Arity = ArgumentArity.OneOrMore };
        var stream = new Option<bool>("--stream") { Description = "Feed the audio in chunks, carrying the recurrent state, and print the partial hypothesis whenever it changes (unidirectional models only)" };
        var chunkMs = new Option<double>("--chunk-ms") { Description = "Chunk length for --stream, in milliseconds of audio", DefaultValueFactory = _ => 100 };
        cmd.Options.Add(model);
        cmd.Options.Add(stream);
        cmd.Options.Add(chunkMs);
        cmd.Arguments.Add(files);
        var decoding = Settings.AddOptions(cmd, spec => spec.Name is "beam" or "grammar", defaults: "the model's training value");
        cmd.SetAction(parse =>
        {
            string path = parse.GetValue(model)!;
            var bundle = ModelFile.Load(path);
            if (bundle.Model is not SpeechRecognizer recognizer) throw new ArgumentException($"--model: expected a speech recogniser (recur train --task asr), found a {ModelKinds.For(bundle.Model).Name} model");
            var given = decoding.Where(kv => parse.GetValue(kv.Value) is { Length: > 0 }).ToDictionary(kv => kv.Key, kv => parse.GetValue(kv.Value)!);
            var settings = TaskRegistry.SettingsOf(bundle, path).With(given);
            settings.CheckGiven(given.Keys);
            var search = AsrTask.Search(settings, new CharacterSet(bundle.Labels!));
            var inputs = parse.GetValue(files)!;
            double ms = parse.GetValue(chunkMs);
            if (!parse.GetValue(stream))
            {
                if (parse.GetResult(chunkMs) is { Implicit: false }) throw new ArgumentException("--chunk-ms: takes effect only with --stream; leave it out or add --stream");
                foreach (var f in inputs)
                {
                    if (f == "-") throw new ArgumentException("'-' (raw PCM on standard input) needs --stream");
                    Console.WriteLine($"{f}\t{bundle.Transcribe(f, settings.Limits, search)}");
                }
                return 0;
            }
            if (!recognizer.CanStream) throw new ArgumentException("--stream: this model is bidirectional, so it needs the whole utterance before its first output; transcribe without --stream, or train a unidirectional model");
            if (inputs.Length != 1) throw new ArgumentException($"--stream: expected one file (or '-'), found {inputs.Length}");
            if (!(ms > 0)) throw new ArgumentException($"--chunk-ms: expected a positive number of milliseconds, found {ms.ToString(CultureInfo.InvariantCulture)}");
            var front = bundle.SpeechFeatures()!;
            int chunk = Math.Max(1, (int)Math.Round(ms * front.SampleRate / 1000));
            var live = bundle.CreateStreamingRecognizer(search);
            IEnumerable<float[]> chunks = inputs[0] == "-"
                ? PcmStream.ReadRaw16(Console.OpenStandardInput(), chunk, "<stdin>")
                : PcmStream.Chunks(SpeechAudio.Read(inputs[0], front.SampleRate, settings.Limits), chunk);
            foreach (var c in chunks)
                if (live.Push(c)) Console.WriteLine($"partial: {live.Text}");
            Console.WriteLine(live.Finish());
            return 0;
        });
        return cmd;
    }
}
