using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Recur.Cli.Train;

/// <summary>
/// One option of <c>recur train</c>: its name (without --), default, help, the tasks it applies to ("*": all), and,
/// for an option that only acts together with another one (momentum with SGD, warm-up with the cosine schedule), the
/// condition under which it acts: <see cref="Requires"/> says it in words, <see cref="Active"/> tests it.
/// </summary>
internal sealed record OptionSpec(string Name, string Default, string Help, string Tasks = "*", string? Requires = null, Func<Settings, bool>? Active = null)
{
    public bool AppliesTo(string task) => Tasks == "*" || Tasks.Split(',').Contains(task);

    /// <summary>Defaults that differ by task ("asr" -> "1"), overriding <see cref="Default"/> for those tasks.</summary>
    public IReadOnlyDictionary<string, string>? TaskDefaults { get; init; }

    /// <summary>The option's default in a run of <paramref name="task"/>.</summary>
    public string DefaultFor(string task) => TaskDefaults is not null && TaskDefaults.TryGetValue(task, out var d) ? d : Default;

    /// <summary>Whether the option takes effect in a run with these settings: its task, and its condition if it has one.</summary>
    public bool ActsIn(Settings s) => AppliesTo(s.Task) && (Active?.Invoke(s) ?? true);
}

/// <summary>
/// The resolved configuration of a run: every option's value as text, typed on access with errors that name the
/// option. Printed at start and saved as <c>config.json</c> in the run folder; <c>--resume</c> reads it back, so a
/// resumed run is configured exactly as the one that stopped.
/// </summary>
internal sealed class Settings
{
    public static readonly string[] Tasks = ["classify", "tag", "lm", "seq2seq", "forecast", "audio", "music", "mlp", "sequence", "asr"];

    public static readonly OptionSpec[] All =
    [
        new("task", "", "What to train: classify (text -> label), tag (CoNLL tokens -> tags), lm (next token), seq2seq (translation), forecast (time series), audio (WAV -> label), music (piano roll), mlp (feed-forward on numeric columns), sequence (numeric vector sequences -> label or value), asr (speech -> text, CTC)"),
        new("data", "", "Training data: TSV/CSV (classify, seq2seq, mlp), text (lm), CoNLL (tag), CSV series (forecast), a folder of WAV files (audio), a list of WAV path,transcript lines or a folder with --transcripts (asr), piano-roll JSON (music), .npz/.npy arrays or a long CSV (sequence); .gz is read transparently"),
        new("valid", "", "Validation data in the same format (default: hold out --valid-fraction of --data; forecast: a series continuing --data, then --test must continue it)"),
        new("max-rows", "0", "Use only the first N examples of --data (rows of a table, lines of a text, sentences of CoNLL, pieces of music, steps of a series; audio: N files evenly spaced in name order), for quick runs (0: all)"),
        new("valid-fraction", "0.1", "Fraction of --data held out for validation when --valid is not given (seeded split; forecast: the last part of --data before the test part, 0: none)",
            Requires: "no --valid FILE", Active: s => s.Optional("valid") is null),
        new("test", "", "Test data evaluated after training (metrics go to metrics.json and the report; forecast: a series continuing --data, or --valid, instead of --test-fraction)"),
        new("output", "", "Run folder for config.json, metrics.jsonl, checkpoint, model.recur, plots and report.html (default: runs/TASK)"),
        new("epochs", "10", "Passes over the training data"),
        new("max-steps", "0", "Stop after this many optimizer steps (0: no limit; the epochs still bound the run)"),
        new("batch-size", "32", "Sequences per batch (lm: parallel streams)"),
        new("lr", "0.002", "Learning rate"),
        new("optimizer", "adam", "adam, adamw, sgd (with --momentum, --nesterov), rmsprop or adagrad"),
        new("momentum", "0", "SGD momentum (0: plain SGD, as PyTorch's default; 0.9 is the usual choice)", Requires: "--optimizer sgd", Active: s => Common.Optimizer(s) == "sgd"),
        new("nesterov", "false", "Nesterov momentum for SGD (needs --momentum > 0)", Requires: "--optimizer sgd", Active: s => Common.Optimizer(s) == "sgd"),
        new("weight-decay", "0", "Weight decay (L2; decoupled for adamw)"),
        new("schedule", "none", "Learning-rate schedule: none; cosine (linear warm-up over --warmup steps, then down to --min-lr at the run's last step, --max-steps included); " +
                                "plateau (x --decay-factor after --plateau-patience epochs without a better validation metric, not below --min-lr); " +
                                "step (constant for --step-start epochs, then x --decay-factor every --step-size epochs)"),
        new("warmup", "0", "Warm-up steps for the cosine schedule", Requires: "--schedule cosine", Active: s => Common.Schedule(s) == "cosine"),
        new("step-size", "10", "Epochs between two decays of the step schedule (1: every epoch)", Requires: "--schedule step", Active: s => Common.Schedule(s) == "step"),
        new("step-start", "", "Epochs at the base rate before the step schedule's first decay (default: --step-size, as PyTorch's StepLR; the classic word-LM recipe: lr 1, --step-size 1 --step-start 4 --decay-factor 0.5)",
            Requires: "--schedule step", Active: s => Common.Schedule(s) == "step"),
        new("decay-factor", "0.5", "Factor the learning rate is multiplied by at each decay of the step and plateau schedules", Requires: "--schedule step or plateau", Active: s => Common.Schedule(s) is "step" or "plateau"),
        new("plateau-patience", "2", "Epochs without a better validation metric before the plateau schedule decays the rate", Requires: "--schedule plateau", Active: s => Common.Schedule(s) == "plateau"),
        new("min-lr", "auto", "Floor of the learning rate: where cosine ends, below which plateau never goes (auto: --lr/20 for cosine, --lr/1000 for plateau)",
            Requires: "--schedule cosine or plateau", Active: s => Common.Schedule(s) is "cosine" or "plateau"),
        new("init", "default", "Initial weights: default (PyTorch's initialisation of each layer) or uniform:A (every parameter ~ U(-A, A), seeded: the classic LM recipe, e.g. uniform:0.1)"),
        new("clip-norm", "5", "Clip the global gradient 2-norm to this (0: off); the cure for exploding gradients"),
        new("patience", "0", "Stop after this many epochs without a better validation metric (0: never)"),
        new("min-delta", "0", "Smallest improvement of the validation metric that counts as better for --patience (and for keeping the best model)",
            Requires: "--patience > 0", Active: s => s.Int("patience", 0) > 0),
        new("seed", "1", "Seed of every random source (split, initialisation, shuffling, dropout)"),
        new("checkpoint-every", "0", "Optimizer steps between checkpoints (0: only at epoch ends and on Ctrl-C)"),
        new("log-every", "10", "Steps between progress lines and metrics-log rows"),
        new("collective-timeout", "120", "Data-parallel runs (mpirun/srun with several ranks): seconds a rank waits in one gradient sum for the others before it stops every rank with an error (a rank hung or lost)",
            "classify,lm", Requires: "a launch by mpirun or srun with more than one rank", Active: _ => DataParallel.LaunchedSize > 1),
        new("bucket-mb", "25", "Data-parallel runs: MiB of gradients per bucket whose sum starts as soon as backward has finished its layers, overlapping communication with the rest of backward (PyTorch DDP's bucket_cap_mb; 0: one sum after backward)",
            "classify,lm", Requires: "a launch by mpirun or srun with more than one rank", Active: _ => DataParallel.LaunchedSize > 1),
        new("cell", "lstm", "Recurrent cell: lstm, gru, rnn-tanh or rnn-relu", "classify,tag,lm,seq2seq,forecast,audio,music,sequence,asr"),
        new("hidden", "128", "Hidden units per direction", "classify,tag,lm,seq2seq,forecast,audio,music,sequence,asr"),
        new("layers", "1", "Stacked recurrent layers", "classify,tag,lm,seq2seq,forecast,audio,music,sequence,asr"),
        new("bidirectional", "false", "Run each encoder layer in both directions", "classify,tag,seq2seq,audio,sequence,asr"),
        new("proj-size", "0", "LSTM projection units P, smaller than --hidden (LSTMP; PyTorch's proj_size): h = W_hr (o * tanh c), so each direction outputs P units (0: none)",
            "classify,tag,lm,seq2seq,audio,sequence,asr", Requires: "--cell lstm", Active: s => Common.Cell(s) == Recur.Nn.RecurrentMode.Lstm),
        new("dropout", "0", "Dropout on inputs and between layers (training only)"),
        new("recurrent-dropout", "0", "Variational dropout on the recurrent connection (one mask per sequence)", "classify,tag,lm,audio,sequence,asr"),
        new("embedding", "64", "Token embedding width", "classify,tag,lm,seq2seq"),
        new("word-vectors", "", "Pretrained word vectors for the vocabulary: GloVe .txt or word2vec/fastText .vec (.gz read transparently); --embedding must equal their dimension; a word without its exact form in the file takes its lower-case match", "classify,tag"),
        new("freeze-embeddings", "false", "Keep the --word-vectors embedding fixed during training (false: fine-tune it)", "classify,tag"),
        new("word-dropout", "0", "Replace each training token by <unk> with this probability (word tokens; training only)", "classify,tag"),
        new("embedding-dropout", "0", "Drop each word's embedding row, every occurrence in a batch at once, with this probability and scale the rest (training only)", "classify,tag"),
        new("pooling", "last", "How a classifier (or sequence regressor) summarises the sequence: last, mean or max", "classify,audio,sequence"),
        new("delimiter", "auto", "tab, comma, or auto (comma for .csv, TAB otherwise)", "classify,seq2seq,mlp,sequence"),
        new("header", "auto", "yes, no, or auto (a header when a column is chosen by name; classify: also when the first row's label is a column name such as 'label' that no other row has; mlp: when the first row's features are not numbers)", "classify,seq2seq,mlp"),
        new("text-column", "0", "Text column (name, or 0-based index; negative counts from the end)", "classify"),
        new("label-column", "-1", "Label column (name or index; sequence: of a long CSV)", "classify,mlp,sequence"),
        new("source-column", "0", "Source-text column (name or index)", "seq2seq"),
        new("target-column", "1", "Target-text column (name or index)", "seq2seq"),
        new("feature-columns", "", "Comma-separated feature columns (names or indices; default: every column but the label; sequence: of a long CSV, also not sequence_id and step)", "mlp,sequence"),
        new("regression", "false", "Predict the label column as a number (MSE) instead of a class", "mlp,sequence"),
        new("mlp-hidden", "64,64", "Hidden layer widths of the feed-forward network", "mlp"),
        new("tokenizer", "auto", "char, word, bpe or ptb (auto: char for lm, word otherwise). ptb (lm only) is the standard reading of word-LM files such as Penn Treebank and WikiText: tokens split on spaces only, each line ends with an <eos> token, <unk> in the file is the unknown token, case kept, and the vocabulary is every type of the training file", "classify,lm,seq2seq"),
        new("lowercase", "true", "Lower-case text before word tokenisation (char, BPE and ptb keep case)", "classify,lm,seq2seq",
            Requires: "word tokens (--tokenizer word; auto is word for classify and seq2seq)", Active: s => Common.TokenizerKind(s, s.Task == "lm" ? "char" : "word") == "word"),
        new("min-count", "1", "Drop tokens seen fewer times than this in training (they become <unk>)", "classify,tag,lm,seq2seq"),
        new("max-vocab", "50000", "Largest vocabulary kept (most frequent tokens; --tokenizer ptb keeps every type, and a training file with more types is an error)", "classify,tag,lm,seq2seq"),
        new("max-length", "1000", "Longest sequence accepted (tokens or frames); longer ones are an error naming the line", "classify,tag,lm,seq2seq,audio,music,sequence,asr"),
        new("max-file-mb", "512", "Largest input file read (MB, after decompression)"),
        new("max-memory-mb", "0", "Refuse to start when the estimated training memory (parameters, optimizer moments, activations of the longest batch) exceeds this many MB (0: 80% of the memory available to the process)"),
        new("bptt", "64", "Truncated-BPTT chunk length: steps per chunk; the state is carried across chunks", "lm"),
        new("tie-embeddings", "false", "Share one matrix between the input embedding and the output layer (Press & Wolf 2017; Inan et al. 2017); needs --embedding equal to --hidden", "lm"),
        new("column", "value", "Series column(s) to read, comma-separated names; the first is forecast", "forecast"),
        new("window", "24", "Input steps per forecast", "forecast"),
        new("horizon", "1", "Steps predicted at once", "forecast"),
        new("season", "0", "Season length for the seasonal-naive baseline (0: none)", "forecast"),
        new("difference", "false", "Model first differences instead of levels", "forecast"),
        new("test-fraction", "0.33", "Last fraction of the series used as test set when no --test file is given (validation: the last --valid-fraction of --data before it)", "forecast",
            Requires: "no --test FILE (the --test series is then the test part)", Active: ForecastTask.UsesTestFraction),
        new("seeds", "1", "Train this many models, with seeds --seed, --seed+1, ...; the test metrics get their mean and standard deviation (*_mean, *_sd); model.recur holds the --seed model", "forecast"),
        new("labels", "", "audio: CSV (file,label) of labels for the WAV files (default: the label is the file name up to its first '_'); sequence: the labels of an .npy --data (an .npy of N labels, or one label per line)", "audio,sequence"),
        new("valid-labels", "", "The labels of an .npy --valid (an .npy of N labels, or one label per line)", "sequence"),
        new("test-labels", "", "The labels of an .npy --test (an .npy of N labels, or one label per line)", "sequence"),
        new("mfcc", "13", "MFCC coefficients per frame", "audio,asr", Requires: "--features mfcc", Active: s => s.Task != "asr" || s.Str("features") == "mfcc"),
        new("mel-bands", "40", "Mel filterbank bands", "audio,asr"),
        new("transcripts", "", "A folder --data (or --valid, --test) of WAV files takes its transcripts from this table of 'file name,text' (or TAB) lines (a list file --data holds its own)", "asr"),
        new("features", "mfcc", "Speech features per 25 ms frame every 10 ms: mfcc (--mfcc coefficients of --mel-bands filters) or logmel (--mel-bands log energies)", "asr"),
        new("deltas", "0", "Append deltas (1) or deltas and delta-deltas (2) of the features (regression over 2 frames each side)", "asr"),
        new("subsample", "1", "Stack this many adjacent frames into one step, with the same stride, so the recurrent stack runs 1/k as many steps (1: none)", "asr"),
        new("freq-masks", "0", "SpecAugment: frequency masks per training utterance (0: none)", "asr"),
        new("freq-mask-width", "8", "SpecAugment: widest frequency mask, in feature channels", "asr", Requires: "--freq-masks > 0", Active: s => s.Int("freq-masks", 0) > 0),
        new("time-masks", "0", "SpecAugment: time masks per training utterance (0: none)", "asr"),
        new("time-mask-width", "20", "SpecAugment: longest time mask, in frames", "asr", Requires: "--time-masks > 0", Active: s => s.Int("time-masks", 0) > 0),
        new("time-mask-fraction", "1", "SpecAugment: a time mask covers at most this fraction of the utterance", "asr", Requires: "--time-masks > 0", Active: s => s.Int("time-masks", 0) > 0),
        new("pitch-range", "21-108", "MIDI pitches of the piano roll, LOW-HIGH (default: the 88 piano keys); a pitch outside it in any data file is an error; the NLL per frame sums over exactly these keys", "music"),
        new("scheduled-sampling", "0", "Largest probability of feeding the decoder its own prediction (rises linearly over the epochs)", "seq2seq"),
        new("beam", "5", "Beam width for scoring (BLEU, chrF, exact match; greedy is scored too) and the samples (1: greedy only); asr: CTC prefix beam search for scoring, predict and transcribe (default 1: greedy best path)", "seq2seq,asr")
            { TaskDefaults = new Dictionary<string, string> { ["asr"] = "1" } },
        new("grammar", "", "asr: decode only outputs of a grammar: digits:MIN-MAX (strings of MIN..MAX digits separated by spaces), words:FILE (sequences of the words listed one per line, separated by spaces) or list:FILE (exactly the transcripts listed one per line); none by default", "asr"),
        new("max-target-length", "50", "Longest decoded output", "seq2seq"),
        new("score-limit", "all", "Pairs decoded for BLEU/chrF after training and in evaluate, in file order: all, N, or 0 (loss only, no decoding)", "seq2seq"),
        new("length-penalty", "1", "Beam hypotheses are ranked by log p / lp: A gives lp = length^A (0: raw log-probability, 1: mean per token); gnmt:A gives GNMT's ((5 + length)/6)^A", "seq2seq"),
        new("no-repeat-ngram", "0", "Never repeat an n-gram of this many tokens in a decoded output, greedy and beam (0: off)", "seq2seq"),
    ];

    /// <summary>The options that name input files or folders.</summary>
    public static readonly string[] DataPaths = ["data", "valid", "test", "labels", "valid-labels", "test-labels", "word-vectors", "transcripts"];

    private readonly SortedDictionary<string, string> values;

    private Settings(SortedDictionary<string, string> values) => this.values = values;

    public string Task => values["task"];

    /// <summary>
    /// Adds one System.CommandLine option per spec (all strings; typed here) and returns them. <paramref name="defaults"/>
    /// replaces the defaults shown in the help (evaluate and predict: the model's own training values).
    /// </summary>
    public static Dictionary<string, Option<string>> AddOptions(Command command, Func<OptionSpec, bool>? include = null, string? defaults = null)
    {
        var options = new Dictionary<string, Option<string>>();
        foreach (var spec in All.Where(s => include?.Invoke(s) ?? true))
        {
            string shown = defaults ?? (spec.Default.Length > 0 ? spec.Default : "");
            if (defaults is null && spec.TaskDefaults is { } byTask) shown += string.Concat(byTask.Select(kv => $"; {kv.Key}: {kv.Value}"));
            var o = new Option<string>("--" + spec.Name)
            {
                Description = spec.Help + (spec.Tasks == "*" ? "" : $" [{spec.Tasks}]") + (spec.Requires is null ? "" : $" [with {spec.Requires}]") + (shown.Length > 0 ? $" (default: {shown})" : ""),
                Required = spec.Name is "task" or "data",
            };
            command.Options.Add(o);
            options[spec.Name] = o;
        }
        return options;
    }

    public static Settings FromParse(ParseResult parse, Dictionary<string, Option<string>> options)
    {
        var v = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var given = new List<string>();
        string task = options.TryGetValue("task", out var taskOption) ? parse.GetValue(taskOption)?.Trim() ?? "" : "";
        foreach (var spec in All)
        {
            if (options.TryGetValue(spec.Name, out var o) && parse.GetValue(o) is { } value)
            {
                v[spec.Name] = value.Trim();
                given.Add(spec.Name);
            }
            else v[spec.Name] = spec.DefaultFor(task);
        }
        // Data paths are saved absolute, so `--resume` finds the data from any working directory.
        foreach (var name in DataPaths)
            if (v[name].Length > 0) v[name] = Path.GetFullPath(v[name]);
        var s = new Settings(v);
        s.Check();
        s.CheckGiven(given);
        return s;
    }

    /// <summary>
    /// Options given on the command line (or by a preset) must take effect: one that does not apply to the task, or
    /// whose condition does not hold (--momentum without SGD, --warmup without cosine), is an error naming it.
    /// </summary>
    public void CheckGiven(IEnumerable<string> given)
    {
        foreach (var name in given)
        {
            var spec = All.First(o => o.Name == name);
            if (!spec.AppliesTo(Task))
                throw new ArgumentException($"--{name}: does not apply to --task {Task} (it applies to {string.Join(", ", spec.Tasks.Split(','))}); leave it out");
            if (!spec.ActsIn(this))
                throw new ArgumentException($"--{name}: takes effect only with {spec.Requires}, which this run does not use; leave it out or add that option");
        }
    }

    public static Settings FromJson(string path)
    {
        var stored = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!All.Any(spec => spec.Name == p.Name)) throw new RecurFormatException(path, p.Name, $"expected a known option, found '{p.Name}' (written by a newer Recur?)");
                stored[p.Name] = p.Value.GetString() ?? "";
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new RecurFormatException(path, "file", $"expected the JSON object of a run configuration, found: {e.Message}");
        }
        var s = FromDictionary(stored);
        s.Check();
        return s;
    }

    public static Settings FromDictionary(IReadOnlyDictionary<string, string> stored)
    {
        var v = new SortedDictionary<string, string>(StringComparer.Ordinal);
        string task = stored.TryGetValue("task", out var t) ? t : "";
        foreach (var spec in All) v[spec.Name] = stored.TryGetValue(spec.Name, out var x) ? x : spec.DefaultFor(task);
        return new Settings(v);
    }

    /// <summary>Overrides values (e.g. from evaluate's command line); empty values are ignored.</summary>
    public Settings With(IEnumerable<KeyValuePair<string, string>> overrides)
    {
        var v = new SortedDictionary<string, string>(values, StringComparer.Ordinal);
        foreach (var (k, x) in overrides) if (!string.IsNullOrEmpty(x)) v[k] = x;
        return new Settings(v);
    }

    private void Check()
    {
        if (!Tasks.Contains(Task)) throw new ArgumentException($"--task: expected one of {string.Join(", ", Tasks)}, found '{Task}'");
        if (Str("data").Length == 0) throw new ArgumentException("--data: expected a file or folder, found none");
        if (Str("output").Length == 0) values["output"] = Path.Combine("runs", Task);
        foreach (var spec in All) if (spec.DefaultFor(Task).Length > 0 && values[spec.Name].Length == 0) values[spec.Name] = spec.DefaultFor(Task);
    }

    /// <summary>
    /// The options that take effect in this run (their task is this one and their condition holds), with their values,
    /// in name order: what the configuration printout, config.json, the model's config.* metadata and the report list.
    /// </summary>
    public IEnumerable<KeyValuePair<string, string>> Relevant =>
        values.Where(kv => All.First(s => s.Name == kv.Key).ActsIn(this));

    public IReadOnlyDictionary<string, string> Values => values;

    public string Str(string name) => values[name];

    public string? Optional(string name) => values[name].Length > 0 ? values[name] : null;

    public int Int(string name, int min = int.MinValue, int max = int.MaxValue)
    {
        string v = values[name];
        if (!int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int x) || x < min || x > max)
            throw new ArgumentException($"--{name}: expected an integer in [{min}, {max}], found '{v}'");
        return x;
    }

    public float Float(string name, float min = float.MinValue, float max = float.MaxValue)
    {
        string v = values[name];
        if (!float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out float x) || !float.IsFinite(x) || x < min || x > max)
            throw new ArgumentException($"--{name}: expected a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}], found '{v}'");
        return x;
    }

    public bool Bool(string name) => values[name].ToLowerInvariant() switch
    {
        "true" or "yes" or "1" or "on" => true,
        "false" or "no" or "0" or "off" => false,
        var v => throw new ArgumentException($"--{name}: expected true or false, found '{v}'"),
    };

    public string Choice(string name, params string[] choices)
    {
        string v = values[name].ToLowerInvariant();
        return choices.Contains(v) ? v : throw new ArgumentException($"--{name}: expected one of {string.Join(", ", choices)}, found '{values[name]}'");
    }

    public ulong Seed
    {
        get
        {
            string v = values["seed"];
            return ulong.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out ulong x) ? x
                : throw new ArgumentException($"--seed: expected a non-negative integer, found '{v}'");
        }
    }

    public Recur.Data.ReadLimits Limits => new(MaxFileBytes: (long)Int("max-file-mb", 1) * 1024 * 1024, MaxSequenceLength: Int("max-length", 1), MaxVocabulary: Math.Max(Int("max-vocab", 2), 2));

    /// <summary>config.json: the options that take effect in this run (<see cref="Relevant"/>); a file that lists every option (older runs) loads the same.</summary>
    public string Json()
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in Relevant) w.WriteString(k, v);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
