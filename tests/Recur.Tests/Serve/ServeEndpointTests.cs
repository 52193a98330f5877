using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Recur.Data;
using Recur.Tests.Cli;
using Recur.Tests.Data;

namespace Recur.Tests.Serve;

/// <summary>
/// One server with the default batching (no gathering delay, so a lone request runs inline), a speech recogniser, a
/// music model and a translator whose decode never ends by itself.
/// </summary>
public sealed class ServeEndpointFixture : IAsyncLifetime
{
    public TempDir Dir { get; } = new();
    public ServerProcess Server { get; private set; } = null!;
    public string Asr { get; private set; } = "";
    public string Music { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        string cls = TinyModels.Classifier(Dir.Path, "cls", 1);
        Asr = TinyModels.Recognizer(Dir.Path, "asr");
        Music = TinyModels.Music(Dir.Path, "music");
        string endless = TinyModels.EndlessTranslator(Dir.Path, "endless");
        Server = await ServerProcess.StartAsync("--model", cls, "--model", Asr, "--model", Music, "--model", endless,
            "--max-batch-size", "64", "--max-sequence-length", "300", "--max-request-bytes", "100000", "--max-generate-length", "500");
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Dir.Dispose();
    }
}

/// <summary>transcribe, music generate, cancellation of a translate decode, and batching with no delay, end to end.</summary>
public class ServeEndpointTests(ServeEndpointFixture fixture) : IClassFixture<ServeEndpointFixture>
{
    private ServerProcess Server => fixture.Server;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The batching server's default (--max-batch-delay-ms 0: idle requests run inline) keeps every answer's bits.</summary>
    [Fact]
    public Task WithNoBatchDelayConcurrentRequestsAreBatchedAndKeepTheirBits() => ServeTests.AssertBatchedBitwise(Server, "cls");

    private async Task<(HttpStatusCode Status, string Body, string? MediaType)> PostWav(string query, byte[] wav, string contentType = "audio/wav")
    {
        using var content = new ByteArrayContent(wav);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await Server.Client.PostAsync("/v1/models/asr/transcribe" + query, content, Ct);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(Ct), response.Content.Headers.ContentType?.MediaType);
    }

    private async Task<string> CliTranscribe(string wav, params string[] options)
    {
        var (code, stdout, stderr) = await CliRunner.Run(["transcribe", "--model", fixture.Asr, .. options, wav]);
        Assert.True(code == 0, stderr);
        Assert.StartsWith(wav + "\t", stdout);
        return stdout.TrimEnd('\n')[(wav.Length + 1)..];
    }

    /// <summary>The WAV body gives what `recur transcribe` prints for the same file: greedy, beam search, and a digits grammar.</summary>
    [Fact]
    public async Task TranscribeGivesWhatRecurTranscribePrints()
    {
        byte[] wav = Wav.Write16(TinyModels.Speech(12_000, 5), 8000);
        string file = fixture.Dir.Bytes("utterance.wav", wav);
        var cases = new (string Query, string[] Options)[] { ("", []), ("?beam=4", ["--beam", "4"]), ("?beam=4&grammar=digits:1-3", ["--beam", "4", "--grammar", "digits:1-3"]) };
        var texts = new List<string>();
        foreach (var (query, options) in cases)
        {
            var (status, body, _) = await PostWav(query, wav);
            Assert.True(status == HttpStatusCode.OK, body);
            var doc = JsonDocument.Parse(body).RootElement;
            Assert.Equal("asr", doc.GetProperty("model").GetString());
            string text = doc.GetProperty("text").GetString()!;
            Assert.Equal(await CliTranscribe(file, options), text);
            texts.Add(text);
        }
        // The grammar admits 1-3 digits separated by spaces, so its output is never empty.
        Assert.Matches(@"^[012]( [012]){0,2}$", texts[2]);
        // application/octet-stream is a WAV body too.
        var octet = await PostWav("", wav, "application/octet-stream");
        Assert.Equal(texts[0], JsonDocument.Parse(octet.Body).RootElement.GetProperty("text").GetString());
    }

    /// <summary>The refusals name the field; a wrong sample rate gets the message `recur transcribe` gives for the same file.</summary>
    [Fact]
    public async Task BadAudioGetsProblemDetailsNamingTheField()
    {
        byte[] wav = Wav.Write16(TinyModels.Speech(4000, 6), 8000);
        async Task Refused(string query, byte[] body, HttpStatusCode status, string field, string detail, string contentType = "audio/wav")
        {
            var (code, text, media) = await PostWav(query, body, contentType);
            Assert.True(status == code, $"{query}: expected {(int)status}, got {(int)code}: {text}");
            Assert.True(media == "application/problem+json", $"{query}: {(int)code} {media}: {text}");
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.Equal(field, problem.GetProperty("field").GetString());
            Assert.Contains(detail, problem.GetProperty("detail").GetString());
        }
        await Refused("", [], HttpStatusCode.BadRequest, "body", "expected a WAV file, found an empty body");
        await Refused("", "hello, not a wav"u8.ToArray(), HttpStatusCode.BadRequest, "body", "body: header (bytes 0-11): expected 'RIFF....WAVE'");
        await Refused("", wav[..(wav.Length - 101)], HttpStatusCode.BadRequest, "body", "(truncated file)");
        await Refused("", new byte[150_000], HttpStatusCode.RequestEntityTooLarge, "body", "--max-request-bytes");
        await Refused("", wav, HttpStatusCode.UnsupportedMediaType, "Content-Type", "found text/plain", "text/plain");
        await Refused("?beam=0", wav, HttpStatusCode.BadRequest, "beam", "expected an integer in [1, 10000], found 0");
        await Refused("?grammar=list:/etc/hostname", wav, HttpStatusCode.BadRequest, "grammar", "a request may not read");
        await Refused("?grammar=digits:3-1", wav, HttpStatusCode.BadRequest, "grammar", "1 <= MIN <= MAX <= 1000");
        // 400 frames is over --max-sequence-length 300.
        await Refused("", Wav.Write16(TinyModels.Speech(32_800, 7), 8000), HttpStatusCode.BadRequest, "body", "expected at most 300 frames");

        // A WAV at 16 kHz: refused, not resampled, with the words recur transcribe uses for the file.
        byte[] fast = Wav.Write16(TinyModels.Speech(4000, 6), 16_000);
        string file = fixture.Dir.Bytes("fast.wav", fast);
        var cli = await CliRunner.Run("transcribe", "--model", fixture.Asr, file);
        Assert.Equal(1, cli.ExitCode);
        string expected = "'fmt ' field 'sample rate': expected 8000 Hz, the rate the model was trained at, found 16000 Hz (Recur does not resample; convert the audio to 8000 Hz first)";
        Assert.Contains(file + ": " + expected, cli.Stderr);
        await Refused("", fast, HttpStatusCode.BadRequest, "body", "body: " + expected);

        // A model without the endpoint: 404 like every other endpoint a kind lacks.
        using var response = await Server.Client.PostAsync("/v1/models/cls/transcribe", new ByteArrayContent(wav), Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("classify model answers", await response.Content.ReadAsStringAsync(Ct));
    }

    /// <summary>A music model's step events are the piece `recur generate` writes as piano-roll JSON for the same seed and start.</summary>
    [Fact]
    public async Task MusicGenerateStreamsTheStepsRecurGenerateWrites()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/music/generate")
        {
            Content = new StringContent("""{"length": 40, "temperature": 0.9, "seed": 11, "start": [[60, 64, 67], [], [62]]}""", System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = await Server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await ServeTests.ReadEvents(response);
        var steps = events.Where(e => e.Name == "step").Select(e => JsonDocument.Parse(e.Data).RootElement).ToList();
        Assert.Equal(Enumerable.Range(0, 40), steps.Select(s => s.GetProperty("step").GetInt32()));
        var done = JsonDocument.Parse(events.Single(e => e.Name == "done").Data).RootElement;
        Assert.Equal(40, done.GetProperty("steps").GetInt32());

        string start = fixture.Dir.File("start.json", "[[[60, 64, 67], [], [62]]]");
        string json = Path.Combine(fixture.Dir.Path, "generated.json"), midi = Path.Combine(fixture.Dir.Path, "generated.mid");
        var cli = await CliRunner.Run("generate", "--model", fixture.Music, "--length", "40", "--temperature", "0.9", "--seed", "11",
            "--seed-json", start, "--midi", midi, "--json", json);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        var piece = PianoRoll.ReadJson(json)[0];
        Assert.Equal(piece.Steps.Select(s => string.Join(',', s)), steps.Select(s => string.Join(',', s.GetProperty("pitches").EnumerateArray().Select(p => p.GetInt32()))));
        Assert.Equal([60, 64, 67], piece.Steps[0]);
        Assert.True(piece.Steps.Skip(3).Any(s => s.Length > 0), "the sampled steps are all silent: the comparison would be empty");
        Assert.Equal(cli.Stdout.Split('\n')[0], done.GetProperty("summary").GetString());
    }

    [Theory]
    [InlineData("""{"length": 10, "top_k": 5}""", "top_k", "temperature only")]
    [InlineData("""{"length": 10, "top_p": 0.5}""", "top_p", "temperature only")]
    [InlineData("""{"length": 10, "prompt": "the"}""", "prompt", "no text prompt")]
    [InlineData("""{"length": 10, "start": [[10]]}""", "start[0]", "expected MIDI pitches in the model's range [21, 108], found 10")]
    [InlineData("""{"length": 501}""", "length", "expected 1 to 500 steps")]
    public async Task MusicGenerateRefusesWhatItCannotHonour(string body, string field, string detail)
    {
        using var response = await Server.Client.PostAsync("/v1/models/music/generate", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Contains(detail, problem.GetProperty("detail").GetString());
    }

    /// <summary>
    /// A client that goes away stops its decode: the translator never ends a translation by itself (up to a million
    /// tokens), so only the cancellation can end the work, and the server counts the work it stopped.
    /// </summary>
    [Fact]
    public async Task AClientThatDisconnectsCancelsTheTranslateDecode()
    {
        const string running = "recur_serve_work_in_progress{model=\"endless\",endpoint=\"translate\"}";
        const string cancelled = "recur_serve_work_cancelled_total{model=\"endless\",endpoint=\"translate\",reason=\"client\"}";
        double before = ServeTests.Metric(await Server.Get("/metrics"), cancelled);
        using var client = new CancellationTokenSource();
        var call = Server.Client.PostAsync("/v1/models/endless/translate",
            new StringContent("""{"inputs": ["the film was great fun", "boring"], "beam": 4}""", System.Text.Encoding.UTF8, "application/json"), client.Token);
        await Until(async () => ServeTests.Metric(await Server.Get("/metrics"), running) == 1, "the decode to start");
        await client.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        await Until(async () => ServeTests.Metric(await Server.Get("/metrics"), cancelled) == before + 1, "the server to count the cancelled decode");
        Assert.Equal(0, ServeTests.Metric(await Server.Get("/metrics"), running));
    }

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        for (int i = 0; i < 600; i++)
        {
            if (await condition()) return;
            await Task.Delay(100, Ct);
        }
        throw new Xunit.Sdk.XunitException($"waited 60 s for {what}");
    }
}
