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

    /// <summary>Utterances of two tone "letters" (a: 300 Hz, b: 1,500 Hz) as WAV files and a transcript list.</summary>
    private string Speech(int count = 12)
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
}
