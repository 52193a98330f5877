using System.Diagnostics;
using System.Text;
using Recur.Data;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary><c>recur train --task asr</c>, <c>transcribe</c> (offline and <c>--stream</c>) and the speech input errors, end to end.</summary>
public sealed class AsrCliTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    private string Speech(int count = 12) => ToneUtterances(dir, count);

    /// <summary>
    /// Utterances of two tone "letters" (a: 300 Hz, b: 1,500 Hz, 0.1 s each with 0.05 s pauses) as WAV files
    /// <c>speech/u{i}.wav</c> in <paramref name="dir"/>, and their transcript list <c>speech.tsv</c>, whose path it returns.
    /// </summary>
    internal static string ToneUtterances(TempDir dir, int count = 12)
    {
        string folder = Path.Combine(dir.Path, "speech");
        Directory.CreateDirectory(folder);
        var lines = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            string text = (i % 3) switch { 0 => "ab", 1 => "ba", _ => "abb" };
            var samples = new List<float>(new float[400]);
            foreach (char ch in text)
            {
                samples.AddRange(Enumerable.Range(0, 800).Select(t => (float)(0.5 * Math.Sin(2 * Math.PI * (ch == 'a' ? 300 : 1500) * t / 8000.0))));
                samples.AddRange(new float[400]);
            }
            File.WriteAllBytes(Path.Combine(folder, $"u{i}.wav"), Wav.Write16(samples.ToArray(), 8000));
            lines.Append($"speech/u{i}.wav\t{text}\n");
        }
        return dir.File("speech.tsv", lines.ToString());
    }

    private async Task<string> Train(string data, params string[] extra)
    {
        string run = Path.Combine(dir.Path, "run" + Guid.NewGuid().ToString("N")[..6]);
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "asr", "--data", data, "--epochs", "2", "--hidden", "12", "--output", run, .. extra]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        return Path.Combine(run, "model.recur");
    }

    [Fact]
    public async Task StreamingFromAFileOrRawPcmEndsWithTheOfflineText()
    {
        string list = Speech();
        string model = await Train(list, "--subsample", "2", "--deltas", "2", "--proj-size", "6", "--layers", "2");
        string wav = Path.Combine(dir.Path, "speech", "u2.wav");
        var (code, stdout, stderr) = await CliRunner.Run("transcribe", "--model", model, wav);
        Assert.True(code == 0, stderr);
        Assert.StartsWith(wav + "\t", stdout);
        string offline = stdout.TrimEnd('\n')[(wav.Length + 1)..];

        (code, stdout, stderr) = await CliRunner.Run("transcribe", "--model", model, "--stream", "--chunk-ms", "30", wav);
        Assert.True(code == 0, stderr);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(offline, lines[^1]);
        Assert.All(lines[..^1], l => Assert.StartsWith("partial: ", l));

        // The same audio as raw 16-bit PCM on standard input.
        var pcm = File.ReadAllBytes(wav)[44..];
        var p = CliRunner.Start(["transcribe", "--model", model, "--stream", "-"], redirectInput: true);
        await p.StandardInput.BaseStream.WriteAsync(pcm, TestContext.Current.CancellationToken);
        p.StandardInput.Close();
        string raw = await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(p.ExitCode == 0, await p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken));
        Assert.Equal(offline, raw.TrimEnd('\n').Split('\n')[^1]);

        // A stream that ends mid-sample is a one-line error.
        p = CliRunner.Start(["transcribe", "--model", model, "--stream", "-"], redirectInput: true);
        await p.StandardInput.BaseStream.WriteAsync(pcm.AsMemory(0, 101), TestContext.Current.CancellationToken);
        p.StandardInput.Close();
        string error = await p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, p.ExitCode);
        Assert.Equal("recur: error: <stdin>: byte 100: expected whole 16-bit samples (an even number of bytes), found a stream that ends mid-sample after 101 bytes", error.Trim());

        (code, _, stderr) = await CliRunner.Run("transcribe", "--model", model, "--chunk-ms", "30", wav);
        Assert.Equal(1, code);
        Assert.Contains("--chunk-ms: takes effect only with --stream", stderr);
    }

    [Fact]
    public async Task ABidirectionalModelTranscribesOfflineAndRefusesToStream()
    {
        string model = await Train(Speech(), "--bidirectional", "true");
        string wav = Path.Combine(dir.Path, "speech", "u0.wav");
        var (code, _, stderr) = await CliRunner.Run("transcribe", "--model", model, wav);
        Assert.True(code == 0, stderr);
        (code, _, stderr) = await CliRunner.Run("transcribe", "--model", model, "--stream", wav);
        Assert.Equal(1, code);
        Assert.StartsWith("recur: error: --stream: this model is bidirectional", stderr);
    }

    [Fact]
    public async Task BadSpeechInputIsAOneLineErrorNamingTheFileAndLine()
    {
        string list = Speech(6);
        string model = await Train(list);

        // A character the model never saw, at evaluate time.
        string unknown = dir.File("unknown.tsv", "speech/u0.wav\tab\nspeech/u1.wav\tbc\n");
        var (code, _, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", unknown);
        Assert.Equal(1, code);
        Assert.Equal($"recur: error: {unknown}: line 2: transcript: character 'c' (position 2 of 'bc') is not in the model's vocabulary; expected one of 'a' 'b'", stderr.Trim());

        string empty = dir.File("empty.tsv", "speech/u0.wav\tab\nspeech/u1.wav\t\n");
        (code, _, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", empty);
        Assert.Equal(1, code);
        Assert.Contains("empty.tsv: line 2: expected a transcript after 'speech/u1.wav', found an empty one", stderr);

        // 0.05 s of audio is 4 frames, 2 steps after stacking 2: too short for "abab".
        File.WriteAllBytes(Path.Combine(dir.Path, "speech", "short.wav"), Wav.Write16(new float[400], 8000));
        string shortList = dir.File("short.tsv", "speech/u0.wav\tab\nspeech/short.wav\tabab\n");
        (code, _, stderr) = await CliRunner.Run("train", "--task", "asr", "--data", shortList, "--subsample", "2", "--output", Path.Combine(dir.Path, "bad"));
        Assert.Equal(1, code);
        Assert.Contains("short.wav: length: expected at least 4 input steps after subsampling for the 4-character transcript 'abab', found 2", stderr);

        File.WriteAllBytes(Path.Combine(dir.Path, "speech", "hi.wav"), Wav.Write16(new float[3200], 16000));
        string rate = dir.File("rate.tsv", "speech/hi.wav\tab\n");
        (code, _, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", rate);
        Assert.Equal(1, code);
        Assert.Contains("hi.wav: 'fmt ' field 'sample rate': expected 8000 Hz, the rate the model was trained at, found 16000 Hz (Recur does not resample", stderr);

        (code, _, stderr) = await CliRunner.Run("train", "--task", "asr", "--data", list, "--freq-mask-width", "4", "--output", Path.Combine(dir.Path, "bad2"));
        Assert.Equal(1, code);
        Assert.Contains("--freq-mask-width: takes effect only with --freq-masks > 0", stderr);
        (code, _, stderr) = await CliRunner.Run("train", "--task", "asr", "--data", list, "--features", "logmel", "--mfcc", "20", "--output", Path.Combine(dir.Path, "bad3"));
        Assert.Equal(1, code);
        Assert.Contains("--mfcc: takes effect only with --features mfcc", stderr);
    }

    [Fact]
    public async Task BeamAndGrammarDecodeEvaluatePredictAndTranscribe()
    {
        string list = Speech(6);
        string model = await Train(list);
        var (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", list);
        Assert.True(code == 0, stderr);
        Assert.Contains("greedy (best-path) decoding of 6 utterances", stdout);
        (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", list, "--beam", "4");
        Assert.True(code == 0, stderr);
        Assert.Contains("CTC prefix beam search of 4 prefixes of 6 utterances", stdout);
        Assert.Contains("utterance_accuracy", stdout);

        // With the list grammar every output is one of the listed transcripts (an output none of them survived the beam
        // for would be empty, which these short utterances never give).
        string allowed = dir.File("allowed.txt", "ab\nba\n\nabb\n");
        (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", list, "--beam", "3", "--grammar", "list:" + allowed);
        Assert.True(code == 0, stderr);
        Assert.Contains($"CTC prefix beam search of 3 prefixes constrained to the grammar list:{allowed}", stdout);
        string wavs = dir.File("wavs.txt", string.Concat(Enumerable.Range(0, 6).Select(i => Path.Combine(dir.Path, "speech", $"u{i}.wav") + "\n")));
        (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", wavs, "--beam", "3", "--grammar", "list:" + allowed);
        Assert.True(code == 0, stderr);
        var outputs = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(6, outputs.Length);
        Assert.All(outputs, o => Assert.Contains(o, new[] { "ab", "ba", "abb" }));

        // Streaming with a beam ends with the offline beam text.
        string wav = Path.Combine(dir.Path, "speech", "u2.wav");
        (code, stdout, stderr) = await CliRunner.Run("transcribe", "--model", model, "--beam", "4", wav);
        Assert.True(code == 0, stderr);
        string offline = stdout.TrimEnd('\n')[(wav.Length + 1)..];
        (code, stdout, stderr) = await CliRunner.Run("transcribe", "--model", model, "--beam", "4", "--stream", "--chunk-ms", "30", wav);
        Assert.True(code == 0, stderr);
        Assert.Equal(offline, stdout.TrimEnd('\n').Split('\n')[^1]);
    }

    [Fact]
    public async Task ABadBeamOrGrammarIsAOneLineError()
    {
        string list = Speech(6);
        string model = await Train(list);
        string wav = Path.Combine(dir.Path, "speech", "u0.wav");
        async Task<string> Fails(params string[] args)
        {
            var (code, _, stderr) = await CliRunner.Run(args);
            Assert.Equal(1, code);
            Assert.Single(stderr.Trim().Split('\n'));
            return stderr.Trim();
        }
        string bad = dir.File("bad.txt", "ab\nba\nabc\n");
        Assert.Equal($"recur: error: {bad}: line 3: character 'c' (position 3 of 'abc') is not in the model's vocabulary; expected one of 'a' 'b'",
            await Fails("evaluate", "--model", model, "--data", list, "--grammar", "list:" + bad));
        Assert.StartsWith($"recur: error: {bad}: line 3: character 'c'", await Fails("transcribe", "--model", model, "--grammar", "list:" + bad, wav));
        string words = dir.File("words.txt", "ab\nb a\n");
        Assert.Equal($"recur: error: {words}: line 2: expected one word (no spaces), found 'b a'",
            await Fails("evaluate", "--model", model, "--data", list, "--grammar", "words:" + words));
        Assert.Equal("recur: error: --grammar: words are separated by spaces, but the model's characters hold no space (a b)",
            await Fails("evaluate", "--model", model, "--data", list, "--grammar", "words:" + dir.File("w.txt", "ab\n")));
        Assert.Equal("recur: error: --grammar digits:1-3: the model's characters hold no digit (a b)",
            await Fails("evaluate", "--model", model, "--data", list, "--grammar", "digits:1-3"));
        Assert.Contains("--grammar: expected digits:MIN-MAX with 1 <= MIN <= MAX <= 1000 (e.g. digits:3-7), found 'digits:5-2'",
            await Fails("evaluate", "--model", model, "--data", list, "--grammar", "digits:5-2"));
        Assert.Contains("--grammar: expected digits:MIN-MAX, words:FILE or list:FILE, found 'regex:a+'",
            await Fails("predict", "--model", model, "--input", dir.File("in.txt", wav + "\n"), "--grammar", "regex:a+"));
        Assert.Contains("--beam", await Fails("evaluate", "--model", model, "--data", list, "--beam", "0"));
        // at training time, before any training step
        Assert.Contains("line 3: character 'c'", await Fails("train", "--task", "asr", "--data", list, "--grammar", "list:" + bad, "--output", Path.Combine(dir.Path, "bad4")));
        Assert.False(File.Exists(Path.Combine(dir.Path, "bad4", "model.recur")));
    }
}
