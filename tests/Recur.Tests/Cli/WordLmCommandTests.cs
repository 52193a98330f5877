using System.Text;
using System.Text.Json;
using Recur.Tensors;

namespace Recur.Tests.Cli;

/// <summary>
/// Word-level language modelling by the book through the CLI: --tokenizer ptb (one sentence per line, &lt;eos&gt; per
/// line, exactly the file's tokens), perplexity and token counts on --test and in evaluate, tokens/s, tied embeddings,
/// and generate joining words with spaces.
/// </summary>
public sealed class WordLmCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-wordlm-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A PTB-style file of generated sentences; returns its path, its word count and its line count.</summary>
    private (string Path, int Words, int Lines) Sentences(string name, int lines, ulong seed)
    {
        string[] subjects = ["the company", "mr. smith", "the U.S. unit", "<unk>"], verbs = ["said", "expects", "reported"], objects = ["N shares", "a loss", "its <unk> 's results"];
        var rng = new Rng(seed);
        var sb = new StringBuilder();
        int words = 0;
        for (int i = 0; i < lines; i++)
        {
            string line = $"{subjects[rng.NextInt(4)]} {verbs[rng.NextInt(3)]} {objects[rng.NextInt(3)]}";
            words += line.Split(' ').Length;
            sb.Append(' ').Append(line).Append(" \n");
        }
        string path = System.IO.Path.Combine(dir, name);
        File.WriteAllText(path, sb.ToString(), new UTF8Encoding(false));
        return (path, words, lines);
    }

    private static string[] Small => ["--epochs", "2", "--hidden", "12", "--embedding", "12", "--bptt", "8", "--batch-size", "4", "--log-every", "5"];

    [Fact]
    public async Task TheStandardReadingTrainsAndScoresEveryTokenOfTheTestFile()
    {
        var train = Sentences("train.txt", 150, 1);
        var valid = Sentences("valid.txt", 30, 2);
        var test = Sentences("test.txt", 40, 3);
        string run = Path.Combine(dir, "run");
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "lm", "--tokenizer", "ptb", "--data", train.Path, "--valid", valid.Path,
            "--test", test.Path, "--tie-embeddings", "true", "--output", run, .. Small]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        // Exactly the file's tokens: its words and one <eos> per line.
        Assert.Contains($"{train.Words + train.Lines} training / {valid.Words + valid.Lines} validation tokens", stdout);
        Assert.Contains(" tok/s", stdout);
        using (var m = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json"))))
        {
            var r = m.RootElement;
            Assert.Equal(test.Words + test.Lines - 1, MetricOf(r, "tokens"));
            Assert.True(MetricOf(r, "train_tokens_per_second") > 0, r.ToString());
            Assert.Equal(Math.Exp(MetricOf(r, "loss")), MetricOf(r, "perplexity"), 6);
        }

        string model = Path.Combine(run, "model.recur");
        (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", test.Path, "--json", "-");
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        using (var m = JsonDocument.Parse(stdout))
        {
            var r = m.RootElement;
            Assert.Equal(test.Words + test.Lines - 1, r.GetProperty("tokens").GetDouble());
            int unk = File.ReadAllText(test.Path).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Skip(1).Count(w => w == "<unk>");
            Assert.True(unk > 0);
            Assert.Equal(unk, r.GetProperty("unk_tokens").GetDouble());
        }

        (code, stdout, stderr) = await CliRunner.Run("generate", "--model", model, "--prompt", "the company said", "--length", "30", "--seed", "2");
        Assert.True(code == 0, stderr);
        Assert.StartsWith("the company said", stdout);
        Assert.True(char.IsWhiteSpace(stdout["the company said".Length]), stdout);
        // Words separated by spaces, <eos> as a line break: every whitespace-separated piece is a word of the training file.
        var known = File.ReadAllText(train.Path).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).ToHashSet();
        Assert.All(stdout.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries), w => Assert.Contains(w, known));
        Assert.DoesNotContain("<eos>", stdout);
        Assert.True(stdout.TrimEnd().Split('\n').Length > 1, $"30 tokens of sentences of 5-7 words hold an <eos> shown as a line break:\n{stdout}");

        string input = Path.Combine(dir, "prompts.txt");
        File.WriteAllText(input, "the company said a loss\n");
        (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", input);
        Assert.True(code == 0, stderr);
        Assert.Single(stdout.TrimEnd('\n').Split('\n'));
        Assert.Contains("<eos>:", stdout);   // after a whole sentence the end of sentence is a likely next token, shown by name
    }

    private static double MetricOf(JsonElement metrics, string name) =>
        metrics.TryGetProperty(name, out var v) ? v.GetDouble()
        : metrics.TryGetProperty("test_" + name, out v) ? v.GetDouble()
        : throw new Xunit.Sdk.XunitException($"metric {name} missing in {metrics}");

    [Fact]
    public async Task TiedEmbeddingsNeedEmbeddingEqualToHidden()
    {
        var train = Sentences("train.txt", 40, 1);
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "lm", "--tokenizer", "ptb", "--data", train.Path, "--tie-embeddings", "true",
            "--hidden", "12", "--embedding", "8", "--output", Path.Combine(dir, "run")]);
        Assert.NotEqual(0, code);
        Assert.Contains("--tie-embeddings", stdout + stderr);
        Assert.Contains("--embedding 8 and --hidden 12", stdout + stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "run")), "a refused start writes nothing");
    }

    [Fact]
    public async Task TheStandardReadingIsForLanguageModelsOnly()
    {
        string data = Path.Combine(dir, "cls.tsv");
        File.WriteAllText(data, string.Concat(Enumerable.Range(0, 20).Select(i => $"word {i}\t{i % 2}\n")));
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "classify", "--tokenizer", "ptb", "--data", data, "--output", Path.Combine(dir, "run"));
        Assert.NotEqual(0, code);
        Assert.Contains("--tokenizer ptb", stdout + stderr);
        Assert.Contains("--task lm only", stdout + stderr);
    }

    [Fact]
    public async Task MoreTypesThanMaxVocabIsAnErrorNotACut()
    {
        var train = Sentences("train.txt", 60, 1);
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "lm", "--tokenizer", "ptb", "--data", train.Path, "--max-vocab", "10",
            "--output", Path.Combine(dir, "run"));
        Assert.NotEqual(0, code);
        Assert.Contains("--max-vocab", stdout + stderr);
        Assert.Contains("more than 10", stdout + stderr);
    }

    [Fact]
    public async Task AWordModelsReportPromptsAreWordsAndItsSplitFallsBetweenLines()
    {
        var train = Sentences("train.txt", 80, 4);
        var valid = Sentences("valid.txt", 10, 5);
        string run = Path.Combine(dir, "run");
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "lm", "--tokenizer", "ptb", "--data", train.Path, "--valid", valid.Path, "--output", run, .. Small]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        // The prompt is the first half of the validation text's first sentence, in whole words.
        var words = File.ReadAllLines(valid.Path)[0].Trim().Split(' ');
        string prompt = string.Join(' ', words[..((words.Length + 1) / 2)]);
        Assert.Contains($"prompt \"{prompt}\", temperature 0.5", stdout);

        // Without --valid, the held-out part starts at a line: the two parts hold every token of the file.
        (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "lm", "--tokenizer", "ptb", "--data", train.Path, "--output", Path.Combine(dir, "run2"), .. Small]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        var counts = System.Text.RegularExpressions.Regex.Match(stdout, @"(\d+) training / (\d+) validation tokens");
        Assert.True(counts.Success, stdout);
        int trainTokens = int.Parse(counts.Groups[1].Value), validTokens = int.Parse(counts.Groups[2].Value);
        Assert.True(validTokens > 0 && trainTokens > validTokens, stdout);
        Assert.Equal(train.Words + train.Lines, trainTokens + validTokens);
    }
}
