using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Cli;
using Recur.Tests.Data;

namespace Recur.Tests.Serve;

/// <summary>Small untrained models (random weights are enough to check serving), saved as `recur train` saves them.</summary>
public static class TinyModels
{
    public static readonly string[] Texts =
    [
        "the film was great fun", "a dull and boring plot", "great acting and a fine story", "boring boring boring",
        "i liked the music", "the ending was bad", "what a fine film", "not good at all",
    ];

    public static string Classifier(string dir, string name, ulong seed)
    {
        var tok = WordTokenizer.Build(Texts);
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = tok.Vocabulary.Count, EmbeddingDim = 16, HiddenSize = 24 }, Classes = 2,
        }, new Rng(seed));
        return Save(dir, name, new ModelBundle { Model = model, Tokenizer = tok, Labels = ["neg", "pos"] }.WithTask("classify"));
    }

    public static string Tagger(string dir, string name)
    {
        var tok = WordTokenizer.Build(Texts, lowercase: false);
        var model = new SequenceTagger(new TaggerConfig
        {
            Encoder = new EncoderConfig { VocabularySize = tok.Vocabulary.Count, EmbeddingDim = 8, HiddenSize = 12, Bidirectional = true }, Tags = 3,
        }, new Rng(5));
        return Save(dir, name, new ModelBundle { Model = model, Tokenizer = tok, Labels = ["A", "B", "C"] }.WithTask("tag"));
    }

    public static string LanguageModel(string dir, string name)
    {
        var tok = CharTokenizer.Build(string.Join("\n", Texts));
        var model = new LanguageModel(new LanguageModelConfig
        {
            Encoder = new EncoderConfig { VocabularySize = tok.Vocabulary.Count, EmbeddingDim = 8, HiddenSize = 16 },
        }, new Rng(9));
        return Save(dir, name, new ModelBundle { Model = model, Tokenizer = tok }.WithTask("lm"));
    }

    public static string Translator(string dir, string name)
    {
        var src = WordTokenizer.Build(Texts);
        var tgt = WordTokenizer.Build(Texts, extraSpecials: [Vocabulary.Bos, Vocabulary.Eos]);
        var model = new Seq2Seq(new Seq2SeqConfig
        {
            Encoder = new EncoderConfig { VocabularySize = src.Vocabulary.Count, EmbeddingDim = 8, HiddenSize = 12 },
            TargetVocabulary = tgt.Vocabulary.Count, BosId = tgt.Vocabulary.Id(Vocabulary.Bos), EosId = tgt.Vocabulary.Id(Vocabulary.Eos),
            DecoderEmbedding = 8, DecoderHidden = 12,
        }, new Rng(4));
        return Save(dir, name, new ModelBundle { Model = model, Tokenizer = src, TargetTokenizer = tgt }
            .WithTask("seq2seq", new Dictionary<string, string> { ["max-target-length"] = "12" }));
    }

    /// <summary>
    /// A translator that never ends a translation by itself (the output bias of &lt;eos&gt; is -1e4) and decodes up to a
    /// million tokens: its decode runs until it is cancelled.
    /// </summary>
    public static string EndlessTranslator(string dir, string name)
    {
        var src = WordTokenizer.Build(Texts);
        var tgt = WordTokenizer.Build(Texts, extraSpecials: [Vocabulary.Bos, Vocabulary.Eos]);
        int eos = tgt.Vocabulary.Id(Vocabulary.Eos);
        var model = new Seq2Seq(new Seq2SeqConfig
        {
            Encoder = new EncoderConfig { VocabularySize = src.Vocabulary.Count, EmbeddingDim = 8, HiddenSize = 12 },
            TargetVocabulary = tgt.Vocabulary.Count, BosId = tgt.Vocabulary.Id(Vocabulary.Bos), EosId = eos,
            DecoderEmbedding = 8, DecoderHidden = 12,
        }, new Rng(4));
        model.NamedParameters().Single(p => p.Key == "output.bias").Value.Value.Span[eos] = -1e4f;
        return Save(dir, name, new ModelBundle { Model = model, Tokenizer = src, TargetTokenizer = tgt }
            .WithTask("seq2seq", new Dictionary<string, string> { ["max-target-length"] = "1000000" }));
    }

    /// <summary>Speech at 8 kHz: tones that change pitch every 0.1 s, with seeded noise.</summary>
    public static float[] Speech(int samples, ulong seed)
    {
        var rng = new Rng(seed);
        return [.. Enumerable.Range(0, samples).Select(i => (float)(0.3 * Math.Sin(2 * Math.PI * (300 + (i / 800) * 150) * i / 8000.0) + 0.05 * rng.NextNormal()))];
    }

    /// <summary>A unidirectional LSTM speech recogniser of the characters 0, 1, 2 and space, with MFCC features at 8 kHz (as RecognizerTests makes one).</summary>
    public static string Recognizer(string dir, string name)
    {
        var plain = new SpeechFeatures(8000, new SpeechFeatureOptions());
        var (frames, steps) = plain.Frames(Speech(8000, 99));
        var standardizer = Standardizer.FitRows(Enumerable.Range(0, steps).Select(t => frames.AsSpan(t * plain.FrameWidth, plain.FrameWidth).ToArray()), plain.FrameWidth);
        var front = plain.With(standardizer);
        var chars = new CharacterSet(["0", "1", "2", " "]);
        var model = new SpeechRecognizer(new RecognizerConfig
        {
            Encoder = new EncoderConfig { InputFeatures = front.Width, HiddenSize = 24 }, Classes = chars.Count,
        }, new Rng(3));
        return Save(dir, name, new ModelBundle
        {
            Model = model, Labels = chars.Symbols,
            Preprocessing = new ModelPreprocessing { Standardizer = standardizer, Audio = new AudioFrontEnd { SampleRate = 8000, Features = front.Options.Audio } },
        }.WithTask("asr"));
    }

    /// <summary>A piano-roll generator over the 88 piano keys (MIDI 21-108), as recur train --task music makes one.</summary>
    public static string Music(string dir, string name)
    {
        var model = new ConditionalGenerator(new GeneratorConfig { ConditionSize = 1, FrameSize = 88, HiddenSize = 16 }, new Rng(6));
        return Save(dir, name, new ModelBundle { Model = model, Preprocessing = new ModelPreprocessing { Music = new PianoRollRange { LowestPitch = 21 } } }.WithTask("music"));
    }

    private static string Save(string dir, string name, ModelBundle bundle)
    {
        string path = Path.Combine(dir, name + ".recur");
        ModelFile.Save(path, bundle);
        return path;
    }
}

/// <summary>A `recur serve` child process on 127.0.0.1 with a free port, and a client for it.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process process;
    private readonly List<string> output = [];

    private ServerProcess(Process process, Uri address)
    {
        this.process = process;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public HttpClient Client { get; }
    public Process Process => process;

    /// <summary>Everything the server logged so far.</summary>
    public string Log { get { lock (output) return string.Join('\n', output); } }

    public static async Task<ServerProcess> StartAsync(params string[] args)
    {
        var p = CliRunner.Start(["serve", "--urls", "http://127.0.0.1:0", .. args]);
        var lines = new List<string>();
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Line(string? line)
        {
            if (line is null) { ready.TrySetException(new InvalidOperationException("recur serve ended before it listened:\n" + string.Join('\n', lines))); return; }
            lock (lines) lines.Add(line);
            if (Regex.Match(line, @"Serving .* on (http://127\.0\.0\.1:\d+)") is { Success: true } m) ready.TrySetResult(new Uri(m.Groups[1].Value));
        }
        p.OutputDataReceived += (_, e) => Line(e.Data);
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var address = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var server = new ServerProcess(p, address);
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (server.output) server.output.Add(e.Data); };
        lock (lines) server.output.AddRange(lines);
        return server;
    }

    public async Task<JsonDocument> PostJson(string path, string json, System.Net.HttpStatusCode expected = System.Net.HttpStatusCode.OK)
    {
        using var response = await Client.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"), TestContext.Current.CancellationToken);
        string body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(expected == response.StatusCode, $"POST {path}: expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body);
    }

    public async Task<string> Get(string path)
    {
        using var response = await Client.GetAsync(path, TestContext.Current.CancellationToken);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }
}

/// <summary>One server for the test class: a classifier, a tagger, a language model and a classifier to hot-swap.</summary>
public sealed class ServeFixture : IAsyncLifetime
{
    public TempDir Dir { get; } = new();
    public ServerProcess Server { get; private set; } = null!;
    public string SwapPath { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        string cls = TinyModels.Classifier(Dir.Path, "cls", 1);
        string tag = TinyModels.Tagger(Dir.Path, "tagger");
        string lm = TinyModels.LanguageModel(Dir.Path, "lm");
        SwapPath = TinyModels.Classifier(Dir.Path, "swap", 1);
        string mt = TinyModels.Translator(Dir.Path, "mt");
        Server = await ServerProcess.StartAsync("--model", cls, "--model", "tag=" + tag, "--model", lm, "--model", SwapPath, "--model", mt,
            "--max-batch-size", "64", "--max-batch-delay-ms", "50", "--max-sequence-length", "40", "--max-request-bytes", "20000", "--watch-interval-ms", "200");
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Dir.Dispose();
    }
}
