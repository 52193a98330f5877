using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Recur.Cli.Train;

/// <summary>One option of <c>recur train</c>: its name (without --), default, help, and the tasks it applies to ("*": all).</summary>
internal sealed record OptionSpec(string Name, string Default, string Help, string Tasks = "*")
{
    public bool AppliesTo(string task) => Tasks == "*" || Tasks.Split(',').Contains(task);
}

/// <summary>
/// The resolved configuration of a run: every option's value as text, typed on access with errors that name the
/// option. Printed at start and saved as <c>config.json</c> in the run folder; <c>--resume</c> reads it back, so a
/// resumed run is configured exactly as the one that stopped.
/// </summary>
internal sealed class Settings
{
    public static readonly string[] Tasks = ["classify", "tag", "lm", "seq2seq", "forecast", "audio", "music", "mlp"];

    public static readonly OptionSpec[] All =
    [
        new("task", "", "What to train: classify (text -> label), tag (CoNLL tokens -> tags), lm (next token), seq2seq (translation), forecast (time series), audio (WAV -> label), music (piano roll), mlp (feed-forward on numeric columns)"),
        new("data", "", "Training data: TSV/CSV (classify, seq2seq, mlp), text (lm), CoNLL (tag), CSV series (forecast), a folder of WAV files (audio), piano-roll JSON (music); .gz is read transparently"),
        new("valid", "", "Validation data in the same format (default: hold out --valid-fraction of --data)"),
        new("max-rows", "0", "Use only the first N examples of --data (rows of a table, lines of a text, sentences of CoNLL, pieces of music, steps of a series; audio: N files evenly spaced in name order), for quick runs (0: all)"),
        new("valid-fraction", "0.1", "Fraction of --data held out for validation when --valid is not given (seeded split)"),
        new("test", "", "Test data evaluated after training (metrics go to metrics.json and the report)"),
        new("output", "", "Run folder for config.json, metrics.jsonl, checkpoint, model.recur, plots and report.html (default: runs/TASK)"),
        new("epochs", "10", "Passes over the training data"),
        new("max-steps", "0", "Stop after this many optimizer steps (0: no limit; the epochs still bound the run)"),
        new("batch-size", "32", "Sequences per batch (lm: parallel streams)"),
        new("lr", "0.002", "Learning rate"),
        new("optimizer", "adam", "adam, adamw, sgd (momentum 0.9), rmsprop or adagrad"),
        new("weight-decay", "0", "Weight decay (L2; decoupled for adamw)"),
        new("schedule", "none", "Learning-rate schedule: none, cosine (with --warmup steps), plateau (halve when validation stalls), step (x0.5 every 10 epochs)"),
        new("warmup", "0", "Warm-up steps for the cosine schedule"),
        new("clip-norm", "5", "Clip the global gradient 2-norm to this (0: off); the cure for exploding gradients"),
        new("patience", "0", "Stop after this many epochs without a better validation metric (0: never)"),
        new("seed", "1", "Seed of every random source (split, initialisation, shuffling, dropout)"),
        new("checkpoint-every", "0", "Optimizer steps between checkpoints (0: only at epoch ends and on Ctrl-C)"),
        new("log-every", "10", "Steps between progress lines and metrics-log rows"),
        new("cell", "lstm", "Recurrent cell: lstm, gru, rnn-tanh or rnn-relu", "classify,tag,lm,seq2seq,forecast,audio,music"),
        new("hidden", "128", "Hidden units per direction", "classify,tag,lm,seq2seq,forecast,audio,music"),
        new("layers", "1", "Stacked recurrent layers", "classify,tag,lm,seq2seq,forecast,audio,music"),
        new("bidirectional", "false", "Run each encoder layer in both directions", "classify,tag,seq2seq,audio"),
        new("dropout", "0", "Dropout on inputs and between layers (training only)"),
        new("recurrent-dropout", "0", "Variational dropout on the recurrent connection (one mask per sequence)", "classify,tag,lm,audio"),
        new("embedding", "64", "Token embedding width", "classify,tag,lm,seq2seq"),
        new("pooling", "last", "How a classifier summarises the sequence: last, mean or max", "classify,audio"),
        new("delimiter", "auto", "tab, comma, or auto (comma for .csv, TAB otherwise)", "classify,seq2seq,mlp"),
        new("header", "auto", "yes, no, or auto (a header when a column is chosen by name; classify: also when the first row's label is a column name such as 'label' that no other row has; mlp: when the first row's features are not numbers)", "classify,seq2seq,mlp"),
        new("text-column", "0", "Text column (name, or 0-based index; negative counts from the end)", "classify"),
        new("label-column", "-1", "Label column (name or index)", "classify,mlp"),
        new("source-column", "0", "Source-text column (name or index)", "seq2seq"),
        new("target-column", "1", "Target-text column (name or index)", "seq2seq"),
        new("feature-columns", "", "Comma-separated feature columns (names or indices; default: every column but the label)", "mlp"),
        new("regression", "false", "Predict the label column as a number (MSE) instead of a class", "mlp"),
        new("mlp-hidden", "64,64", "Hidden layer widths of the feed-forward network", "mlp"),
        new("tokenizer", "auto", "char, word or bpe (auto: char for lm, word otherwise)", "classify,tag,lm,seq2seq"),
        new("lowercase", "true", "Lower-case text before word tokenisation (char and BPE keep case)", "classify,lm,seq2seq"),
        new("min-count", "1", "Drop tokens seen fewer times than this in training (they become <unk>)", "classify,tag,lm,seq2seq"),
        new("max-vocab", "50000", "Largest vocabulary kept (most frequent tokens)", "classify,tag,lm,seq2seq"),
        new("max-length", "1000", "Longest sequence accepted (tokens or frames); longer ones are an error naming the line"),
        new("max-file-mb", "512", "Largest input file read (MB, after decompression)"),
        new("max-memory-mb", "0", "Refuse to start when the estimated training memory (parameters, optimizer moments, activations of the longest batch) exceeds this many MB (0: 80% of the memory available to the process)"),
        new("bptt", "64", "Truncated-BPTT chunk length: steps per chunk; the state is carried across chunks", "lm"),
        new("column", "value", "Series column(s) to read, comma-separated names; the first is forecast", "forecast"),
        new("window", "24", "Input steps per forecast", "forecast"),
        new("horizon", "1", "Steps predicted at once", "forecast"),
        new("season", "0", "Season length for the seasonal-naive baseline (0: none)", "forecast"),
        new("difference", "false", "Model first differences instead of levels", "forecast"),
        new("test-fraction", "0.33", "Last fraction of the series used as test set (validation: the same fraction before it)", "forecast"),
        new("labels", "", "CSV (file,label) of labels for the WAV files (default: the label is the file name up to its first '_')", "audio"),
        new("mfcc", "13", "MFCC coefficients per frame", "audio"),
        new("mel-bands", "40", "Mel filterbank bands", "audio"),
        new("scheduled-sampling", "0", "Largest probability of feeding the decoder its own prediction (rises linearly over the epochs)", "seq2seq"),
        new("beam", "5", "Beam width for scoring (BLEU, chrF, exact match; greedy is scored too) and the samples (1: greedy only)", "seq2seq"),
        new("max-target-length", "50", "Longest decoded output", "seq2seq"),
        new("score-limit", "all", "Pairs decoded for BLEU/chrF after training and in evaluate, in file order: all, N, or 0 (loss only, no decoding)", "seq2seq"),
        new("length-penalty", "1", "Beam hypotheses are ranked by log p / lp: A gives lp = length^A (0: raw log-probability, 1: mean per token); gnmt:A gives GNMT's ((5 + length)/6)^A", "seq2seq"),
        new("no-repeat-ngram", "0", "Never repeat an n-gram of this many tokens in a decoded output, greedy and beam (0: off)", "seq2seq"),
    ];

    /// <summary>The options that name input files or folders.</summary>
    public static readonly string[] DataPaths = ["data", "valid", "test", "labels"];

    private readonly SortedDictionary<string, string> values;

    private Settings(SortedDictionary<string, string> values) => this.values = values;

    public string Task => values["task"];

    /// <summary>Adds one System.CommandLine option per spec (all strings; typed here) and returns them.</summary>
    public static Dictionary<string, Option<string>> AddOptions(Command command, Func<OptionSpec, bool>? include = null)
    {
        var options = new Dictionary<string, Option<string>>();
        foreach (var spec in All.Where(s => include?.Invoke(s) ?? true))
        {
            var o = new Option<string>("--" + spec.Name)
            {
                Description = spec.Help + (spec.Tasks == "*" ? "" : $" [{spec.Tasks}]") + (spec.Default.Length > 0 ? $" (default: {spec.Default})" : ""),
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
        foreach (var spec in All)
            v[spec.Name] = options.TryGetValue(spec.Name, out var o) && parse.GetValue(o) is { } given ? given.Trim() : spec.Default;
        // Data paths are saved absolute, so `--resume` finds the data from any working directory.
        foreach (var name in DataPaths)
            if (v[name].Length > 0) v[name] = Path.GetFullPath(v[name]);
        var s = new Settings(v);
        s.Check();
        return s;
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
        foreach (var spec in All) v[spec.Name] = stored.TryGetValue(spec.Name, out var x) ? x : spec.Default;
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
        foreach (var spec in All) if (spec.Default.Length > 0 && values[spec.Name].Length == 0) values[spec.Name] = spec.Default;
    }

    /// <summary>The options that apply to this task (and their values), in name order.</summary>
    public IEnumerable<KeyValuePair<string, string>> Relevant =>
        values.Where(kv => All.First(s => s.Name == kv.Key).AppliesTo(Task));

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

    public string Json()
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in values) w.WriteString(k, v);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
