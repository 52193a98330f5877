using System.CommandLine;
using System.Text;
using Recur.Cli.Train;

namespace Recur.Cli.Commands;

/// <summary><c>recur evaluate</c>, <c>predict</c>, <c>generate</c> and <c>translate</c>: using a trained model file.</summary>
internal static class UseCommands
{
    /// <summary>Format options evaluate and predict accept, overriding what the model was trained with.</summary>
    private static readonly string[] Overridable =
        ["delimiter", "header", "text-column", "label-column", "source-column", "target-column", "feature-columns", "column", "test-fraction",
         "season", "labels", "beam", "grammar", "max-target-length", "score-limit", "length-penalty", "no-repeat-ngram", "max-length", "max-file-mb", "batch-size", "bptt"];

    private static Option<string> ModelOption() => new("--model") { Description = "Model file written by `recur train` (model.recur)", Required = true };

    private static (ModelBundle Bundle, Settings Settings) Load(string path, ParseResult parse, Dictionary<string, Option<string>> overrides)
    {
        var bundle = ModelFile.Load(path);
        var given = overrides.Where(kv => parse.GetValue(kv.Value) is { Length: > 0 }).ToDictionary(kv => kv.Key, kv => parse.GetValue(kv.Value)!);
        var settings = TaskRegistry.SettingsOf(bundle, path).With(given);
        // An override the model's task does not read (--bptt for a classifier) is an error, not silently ignored.
        settings.CheckGiven(given.Keys);
        return (bundle, settings);
    }

    /// <summary>The overridable options; their help shows no default of its own, since each one's default is the model's training value.</summary>
    private static Dictionary<string, Option<string>> AddOverrides(Command cmd) =>
        Settings.AddOptions(cmd, spec => Overridable.Contains(spec.Name), defaults: "the model's training value");

    public static Command Evaluate()
    {
        var cmd = new Command("evaluate", "Score a model on a data file in its task's format; prints the metrics and writes them as JSON " +
                                          "(keys: accuracy, macro_f1, loss, perplexity, tokens, unk_tokens, bits_per_char, bleu, chrf, exact_match, mae, rmse, mse, nll_per_frame, whichever apply)");
        var model = ModelOption();
        var data = new Option<string>("--data") { Description = "Data to evaluate on (same format as for training)", Required = true };
        var json = new Option<string>("--json") { Description = "Write the metrics as a JSON object to this file ('-': standard output)" };
        cmd.Options.Add(model);
        cmd.Options.Add(data);
        cmd.Options.Add(json);
        var overrides = AddOverrides(cmd);
        cmd.SetAction(parse =>
        {
            var (bundle, settings) = Load(parse.GetValue(model)!, parse, overrides);
            var outcome = TaskRegistry.Get(settings.Task).Evaluate(bundle, settings, parse.GetValue(data)!);
            string text = RunContext.MetricsJson(outcome.Metrics);
            string? target = parse.GetValue(json);
            if (target == "-") { Console.WriteLine(text); return 0; }
            Console.WriteLine($"{settings.Task} model {parse.GetValue(model)} on {parse.GetValue(data)}:");
            foreach (var (k, v) in outcome.Metrics) Console.WriteLine($"  {k,-14} {Common.F(v)}");
            foreach (var note in outcome.Notes) Console.WriteLine("  " + note);
            if (target is not null) { AtomicFile.Write(target, fs => fs.Write(Encoding.UTF8.GetBytes(text))); Console.WriteLine($"metrics written to {target}"); }
            return 0;
        });
        return cmd;
    }

    private static Option<string> FormatOption() => new("--format") { Description = "Output: text (one line per input) or jsonl (one JSON object per line)", DefaultValueFactory = _ => "text" };

    private static bool Jsonl(ParseResult parse, Option<string> format) => parse.GetValue(format) switch
    {
        "jsonl" or "json" => true,
        "text" => false,
        var f => throw new ArgumentException($"--format: expected text or jsonl, found '{f}'"),
    };

    /// <summary>The prediction input and the name its errors give: the file's path, or <c>&lt;stdin&gt;</c>.</summary>
    private static (TextReader Reader, string Source) Input(string? path) =>
        path is null or "-" ? (Console.In, "<stdin>") : (new StringReader(DataFiles.ReadAllText(path)), path);

    public static Command Predict()
    {
        var cmd = new Command("predict", "Run a model on inputs from a file or standard input, one per line: classify -> label and probabilities; tag -> " +
                                         "tags per token; lm -> likely next tokens; mlp -> label or value; audio -> label of each WAV path; forecast -> the next k values of a CSV series; " +
                                         "sequence -> label or value of each sequence of an .npy/.npz file or a long CSV");
        var model = ModelOption();
        var input = new Option<string>("--input") { Description = "Input file ('-' or absent: standard input)" };
        var format = FormatOption();
        cmd.Options.Add(model);
        cmd.Options.Add(input);
        cmd.Options.Add(format);
        var overrides = AddOverrides(cmd);
        cmd.SetAction(parse =>
        {
            var (bundle, settings) = Load(parse.GetValue(model)!, parse, overrides);
            bool json = Jsonl(parse, format);
            // NumPy arrays are binary: the sequence task reads them from the path itself.
            var (reader, source) = settings.Task == "sequence" && SequenceTask.ReadsPath(parse.GetValue(input)) ? (TextReader.Null, parse.GetValue(input)!) : Input(parse.GetValue(input));
            using (reader) TaskRegistry.Get(settings.Task).Predict(bundle, settings, reader, source, Console.Out, json);
            return 0;
        });
        return cmd;
    }

    public static Command Translate()
    {
        var cmd = new Command("translate", "Translate sentences (one per line, from a file or standard input) with a seq2seq model; a blank input line gives a blank output line");
        var model = ModelOption();
        var input = new Option<string>("--input") { Description = "Input file ('-' or absent: standard input)" };
        var beam = new Option<int>("--beam") { Description = "Beam width (1: greedy decoding)", DefaultValueFactory = _ => 5 };
        var format = FormatOption();
        foreach (var o in new Option[] { model, input, beam, format }) cmd.Options.Add(o);
        var overrides = Settings.AddOptions(cmd, spec => spec.Name is "max-target-length" or "length-penalty" or "no-repeat-ngram");
        cmd.SetAction(parse =>
        {
            var (bundle, settings) = Load(parse.GetValue(model)!, parse, overrides);
            if (settings.Task != "seq2seq") throw new ArgumentException($"--model: expected a seq2seq model, found a {settings.Task} model");
            int b = parse.GetValue(beam);
            if (b < 1) throw new ArgumentException($"--beam: expected >= 1, found {b}");
            var (reader, source) = Input(parse.GetValue(input));
            using (reader) Seq2SeqTask.Translate(bundle, settings, reader, source, Console.Out, Jsonl(parse, format), b);
            return 0;
        });
        return cmd;
    }

    public static Command Generate()
    {
        var cmd = new Command("generate", "Sample from a language model (text) or a music model (piano roll, written as MIDI and JSON)");
        var model = ModelOption();
        var prompt = new Option<string>("--prompt") { Description = "Language model: text to continue", DefaultValueFactory = _ => "" };
        var length = new Option<int>("--length") { Description = "Tokens (lm) or steps (music) to generate", DefaultValueFactory = _ => 200 };
        var temperature = new Option<float>("--temperature") { Description = "Sampling temperature (0: most likely; music: on when p > 0.5)", DefaultValueFactory = _ => 1f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0: all)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Sample among the most likely tokens whose probabilities sum to p (1: all)", DefaultValueFactory = _ => 1f };
        var seed = new Option<ulong>("--seed") { Description = "Random seed of the sampling", DefaultValueFactory = _ => 1 };
        var seedJson = new Option<string>("--seed-json") { Description = "Music: piano-roll JSON whose first piece starts the output" };
        var midi = new Option<string>("--midi") { Description = "Music: write the generated piece as a standard MIDI file here", DefaultValueFactory = _ => "generated.mid" };
        var json = new Option<string>("--json") { Description = "Music: also write the piece as piano-roll JSON here" };
        foreach (var o in new Option[] { model, prompt, length, temperature, topK, topP, seed, seedJson, midi, json }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var (bundle, settings) = Load(parse.GetValue(model)!, parse, []);
            int n = parse.GetValue(length);
            float t = parse.GetValue(temperature), p = parse.GetValue(topP);
            if (n < 1) throw new ArgumentException($"--length: expected >= 1, found {n}");
            if (!(t >= 0)) throw new ArgumentException($"--temperature: expected >= 0, found {t}");
            if (!(p > 0 && p <= 1)) throw new ArgumentException($"--top-p: expected a value in (0, 1], found {p}");
            if (parse.GetValue(topK) < 0) throw new ArgumentException($"--top-k: expected >= 0, found {parse.GetValue(topK)}");
            // An option the model's task cannot use is an error, never silently ignored.
            Option[] unused = settings.Task switch
            {
                "lm" => [seedJson, midi, json],
                "music" => [prompt, topK, topP],
                _ => [],
            };
            foreach (var o in unused)
                if (parse.GetResult(o) is { Implicit: false })
                    throw new ArgumentException($"{o.Name}: a {settings.Task} model does not use it (generate takes --prompt, --top-k and --top-p for language models; --seed-json, --midi and --json for music models); leave it out");
            switch (settings.Task)
            {
                case "lm":
                    Console.WriteLine(LmTask.Generate(bundle, parse.GetValue(prompt)!, n, t, parse.GetValue(topK), p, parse.GetValue(seed)));
                    return 0;
                case "music":
                    Piece? start = parse.GetValue(seedJson) is { } sj ? PianoRoll.ReadJson(sj)[0] : null;
                    var piece = MusicTask.Generate(bundle, start, n, t, parse.GetValue(seed));
                    string mid = parse.GetValue(midi)!;
                    Midi.Write(mid, piece);
                    if (parse.GetValue(json) is { } jp) PianoRoll.WriteJson(jp, [piece]);
                    Console.WriteLine(MusicTask.Show(piece));
                    Console.WriteLine($"MIDI written to {mid}");
                    return 0;
                default:
                    throw new ArgumentException($"--model: generate needs a language model or a music model, found a {settings.Task} model (seq2seq: use `recur translate`)");
            }
        });
        return cmd;
    }
}
