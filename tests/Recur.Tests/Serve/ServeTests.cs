using System.Net;
using System.Text.Json;
using Recur.IO;
using Recur.Tests.Cli;

namespace Recur.Tests.Serve;

/// <summary>
/// `recur serve` end to end: the real CLI with Kestrel on 127.0.0.1, tiny models written by the library, HTTP from
/// <see cref="HttpClient"/>.
/// </summary>
public class ServeTests(ServeFixture fixture) : IClassFixture<ServeFixture>
{
    private ServerProcess Server => fixture.Server;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Inputs(params string[] texts) => JsonSerializer.Serialize(new Dictionary<string, string[]> { ["inputs"] = texts });

    [Fact]
    public async Task HealthReadinessModelsAndOpenApiAnswer()
    {
        Assert.Equal("ok\n", await Server.Get("/healthz"));
        Assert.Equal("ready\n", await Server.Get("/readyz"));
        using var models = JsonDocument.Parse(await Server.Get("/v1/models"));
        var byName = models.RootElement.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);
        Assert.Equal(["cls", "lm", "mt", "swap", "tag"], byName.Keys.Order());
        Assert.Equal("classify", byName["cls"].GetProperty("task").GetString());
        Assert.True(byName["cls"].GetProperty("batched").GetBoolean());
        Assert.Equal(["neg", "pos"], byName["cls"].GetProperty("labels").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(["predict", "generate"], byName["lm"].GetProperty("endpoints").EnumerateArray().Select(l => l.GetString()));
        using var openapi = JsonDocument.Parse(await Server.Get("/openapi/v1.json"));
        var paths = openapi.RootElement.GetProperty("paths");
        foreach (var p in new[] { "/v1/models/{name}/predict", "/v1/models/{name}/generate", "/v1/models/{name}/translate", "/v1/models/{name}/transcribe", "/v1/models", "/healthz", "/readyz" })
            Assert.True(paths.TryGetProperty(p, out _), $"the OpenAPI document lacks {p}");
    }

    /// <summary>
    /// The reference is each text sent alone, one request at a time (a batch of one); then all of them at once, so the
    /// server gathers them into batches (the batch-size histogram must show it did): every probability must have the
    /// same bits.
    /// </summary>
    [Fact]
    public Task ConcurrentRequestsAreBatchedAndEachGetsBitwiseTheSingleRequestAnswer() => AssertBatchedBitwise(Server, "cls");

    internal static async Task AssertBatchedBitwise(ServerProcess server, string name)
    {
        string path = $"/v1/models/{name}/predict";
        var rng = new Recur.Tensors.Rng(3);
        string[] words = [.. TinyModels.Texts.SelectMany(t => t.Split(' ')).Distinct(), "unseen"];
        var texts = Enumerable.Range(0, 48).Select(_ => string.Join(' ', Enumerable.Range(0, 1 + rng.NextInt(30)).Select(_ => words[rng.NextInt(words.Length)]))).ToArray();
        var alone = new List<(string Label, float[] P)>();
        foreach (var t in texts) alone.Add(Output(await server.PostJson(path, Inputs(t)), 0));
        string before = await server.Get("/metrics");
        var together = await Task.WhenAll(texts.Select(t => server.PostJson(path, Inputs(t))));
        for (int i = 0; i < texts.Length; i++)
        {
            var (label, p) = Output(together[i], 0);
            Assert.Equal(alone[i].Label, label);
            Assert.Equal(alone[i].P.Select(BitConverter.SingleToInt32Bits), p.Select(BitConverter.SingleToInt32Bits));
        }
        // A request with several inputs gives the same bits too.
        using var many = await server.PostJson(path, Inputs(texts[..5]));
        for (int i = 0; i < 5; i++) Assert.Equal(alone[i].P.Select(BitConverter.SingleToInt32Bits), Output(many, i).P.Select(BitConverter.SingleToInt32Bits));
        double batchesBefore = Metric(before, $"recur_serve_batch_size_count{{model=\"{name}\"}}"), inputsBefore = Metric(before, $"recur_serve_batch_size_sum{{model=\"{name}\"}}");
        string after = await server.Get("/metrics");
        double batches = Metric(after, $"recur_serve_batch_size_count{{model=\"{name}\"}}") - batchesBefore, inputs = Metric(after, $"recur_serve_batch_size_sum{{model=\"{name}\"}}") - inputsBefore;
        Assert.True(batches < inputs, $"{inputs} inputs ran in {batches} batches: the concurrent requests were not batched");
    }

    private static (string Label, float[] P) Output(JsonDocument doc, int i)
    {
        var o = doc.RootElement.GetProperty("outputs")[i];
        var p = o.GetProperty("probabilities");
        return (o.GetProperty("label").GetString()!, [p.GetProperty("neg").GetSingle(), p.GetProperty("pos").GetSingle()]);
    }

    internal static double Metric(string text, string series)
    {
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task TaggerAndLanguageModelPredictPerKind()
    {
        using var tags = await Server.PostJson("/v1/models/tag/predict", Inputs("the film zzz", "fine"));
        var first = tags.RootElement.GetProperty("outputs")[0];
        Assert.Equal(["the", "film", "zzz"], first.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.All(first.GetProperty("tags").EnumerateArray(), t => Assert.Contains(t.GetString(), new[] { "A", "B", "C" }));
        Assert.Equal([false, false, true], first.GetProperty("unknown").EnumerateArray().Select(t => t.GetBoolean()));
        Assert.Equal(1, tags.RootElement.GetProperty("outputs")[1].GetProperty("tags").GetArrayLength());
        using var next = await Server.PostJson("/v1/models/lm/predict", Inputs("the fi"));
        var candidates = next.RootElement.GetProperty("outputs")[0].GetProperty("next").EnumerateArray().Select(c => c.GetProperty("probability").GetSingle()).ToArray();
        Assert.Equal(5, candidates.Length);
        Assert.True(candidates.Zip(candidates.Skip(1)).All(p => p.First >= p.Second), "next tokens must be most likely first");
    }

    /// <summary>The token events join to the done event's text, and that is what `recur generate` prints for the same seed.</summary>
    [Fact]
    public async Task GenerateStreamsTokensThatJoinToWhatRecurGeneratePrints()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/lm/generate")
        {
            Content = new StringContent("""{"prompt": "the fi", "length": 40, "temperature": 0.8, "top_k": 5, "top_p": 0.9, "seed": 7}""", System.Text.Encoding.UTF8, "application/json"),
        };
        using var response = await Server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await ReadEvents(response);
        var tokens = events.Where(e => e.Name == "token").Select(e => JsonDocument.Parse(e.Data).RootElement).ToList();
        Assert.Equal(40, tokens.Count);
        var done = JsonDocument.Parse(events.Single(e => e.Name == "done").Data).RootElement;
        Assert.Equal("the fi" + string.Concat(tokens.Select(t => t.GetProperty("text").GetString())), done.GetProperty("text").GetString());
        var cli = await CliRunner.Run("generate", "--model", Path.Combine(fixture.Dir.Path, "lm.recur"), "--prompt", "the fi", "--length", "40",
            "--temperature", "0.8", "--top-k", "5", "--top-p", "0.9", "--seed", "7");
        Assert.Equal(0, cli.ExitCode);
        Assert.Equal(cli.Stdout.TrimEnd('\n'), done.GetProperty("text").GetString());
    }

    /// <summary>Translations, greedy and beam, are what `recur translate` writes for the same sentences.</summary>
    [Fact]
    public async Task TranslateGivesWhatRecurTranslatePrints()
    {
        string[] sentences = ["the film was great fun", "boring", "what a fine story"];
        foreach (int beam in new[] { 1, 3 })
        {
            using var doc = await Server.PostJson("/v1/models/mt/translate", JsonSerializer.Serialize(new Dictionary<string, object> { ["inputs"] = sentences, ["beam"] = beam }));
            var translations = doc.RootElement.GetProperty("translations").EnumerateArray().Select(t => t.GetString()).ToArray();
            var cli = await CliRunner.Run(["translate", "--model", Path.Combine(fixture.Dir.Path, "mt.recur"), "--beam", beam.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--format", "jsonl"], null, stdin: string.Join('\n', sentences) + "\n");
            Assert.True(cli.ExitCode == 0, cli.Stderr);
            var expected = cli.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("translation").GetString()).ToArray();
            Assert.Equal(expected, translations);
        }
        using var bad = await Server.PostJson("/v1/models/mt/translate", "{\"inputs\": [\"fine\"], \"beam\": 0}", HttpStatusCode.BadRequest);
        Assert.Equal("beam", bad.RootElement.GetProperty("field").GetString());
    }

    internal static async Task<List<(string Name, string Data)>> ReadEvents(HttpResponseMessage response, Action<int>? onEvent = null)
    {
        var events = new List<(string, string)>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct));
        string name = "", data = "";
        while (await reader.ReadLineAsync(Ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line[6..];
            else if (line.Length == 0 && name.Length > 0) { events.Add((name, data)); onEvent?.Invoke(events.Count); name = data = ""; }
        }
        return events;
    }

    [Theory]
    [InlineData("/v1/models/cls/predict", "{\"inputs\": [\"fine\", 3]}", 400, "inputs[1]", "expected a string, found the number 3")]
    [InlineData("/v1/models/cls/predict", "{\"inputs\": [\"fine\"", 400, "inputs[1]", "")]
    [InlineData("/v1/models/cls/predict", "{\"inptus\": [\"fine\"]}", 400, "inptus", "")]
    [InlineData("/v1/models/cls/predict", "{\"inputs\": []}", 400, "inputs", "non-empty")]
    [InlineData("/v1/models/cls/predict", "{\"inputs\": [\"   \"]}", 400, "inputs[0]", "at least one token")]
    [InlineData("/v1/models/lm/generate", "{\"prompt\": \"a\", \"temperature\": \"hot\"}", 400, "temperature", "")]
    [InlineData("/v1/models/lm/generate", "{\"prompt\": \"a\", \"top_p\": 0}", 400, "top_p", "(0, 1]")]
    [InlineData("/v1/models/nope/predict", "{\"inputs\": [\"fine\"]}", 404, "name", "no model named 'nope'")]
    [InlineData("/v1/models/cls/translate", "{\"inputs\": [\"fine\"]}", 404, "name", "classify model answers")]
    [InlineData("/v1/models/cls/transcribe", "{}", 404, "name", "classify model answers")]
    public async Task BadRequestsGetProblemDetailsNamingTheField(string path, string body, int status, string field, string detail)
    {
        using var response = await Server.Client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(status == (int)response.StatusCode, text);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.Equal(field, problem.GetProperty("field").GetString());
        Assert.Contains(detail, problem.GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("/v1/models/cls/predict")]
    [InlineData("/v1/models/lm/generate")]
    public async Task AJsonEndpointCalledWithAnotherContentTypeGets415ProblemDetails(string path)
    {
        using var response = await Server.Client.PostAsync(path, new StringContent("{\"inputs\": [\"fine\"]}", System.Text.Encoding.UTF8, "text/plain"), Ct);
        string text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.UnsupportedMediaType, text);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(415, problem.GetProperty("status").GetInt32());
        Assert.Equal("Content-Type", problem.GetProperty("field").GetString());
        Assert.Contains("found text/plain", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task LimitsOnLengthAndBodySizeAreEnforced()
    {
        string longText = string.Join(' ', Enumerable.Repeat("fine", 41));
        using var tooLong = await Server.PostJson("/v1/models/cls/predict", Inputs(longText), HttpStatusCode.BadRequest);
        Assert.Contains("expected at most 40 tokens (--max-sequence-length), found 41", tooLong.RootElement.GetProperty("detail").GetString());
        using var big = await Server.PostJson("/v1/models/cls/predict", Inputs(new string('a', 30_000)), HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("body", big.RootElement.GetProperty("field").GetString());
    }

    [Fact]
    public async Task ReplacingTheModelFileHotSwapsItAndADamagedFileIsRefused()
    {
        using var before = await Server.PostJson("/v1/models/swap/predict", Inputs("great fun"));
        long version = before.RootElement.GetProperty("version").GetInt64();
        var (_, p0) = Output(before, 0);
        // A different model, written beside and renamed over the served file (as AtomicFile writes).
        string next = TinyModels.Classifier(fixture.Dir.Path, "next", 99);
        File.Move(next, fixture.SwapPath, overwrite: true);
        var swapped = await WaitForVersion(version + 1);
        Assert.NotEqual(p0, Output(swapped, 0).P);
        // A damaged file: the server logs the refusal and keeps serving the last good version.
        byte[] bytes = File.ReadAllBytes(fixture.SwapPath);
        File.WriteAllBytes(fixture.SwapPath + ".tmp", bytes[..(bytes.Length / 2)]);
        File.Move(fixture.SwapPath + ".tmp", fixture.SwapPath, overwrite: true);
        for (int i = 0; i < 100 && Metric(await Server.Get("/metrics"), "recur_serve_model_reloads_total{model=\"swap\",result=\"refused\"}") < 1; i++) await Task.Delay(100, Ct);
        Assert.Equal(1, Metric(await Server.Get("/metrics"), "recur_serve_model_reloads_total{model=\"swap\",result=\"refused\"}"));
        using var after = await Server.PostJson("/v1/models/swap/predict", Inputs("great fun"));
        Assert.Equal(version + 1, after.RootElement.GetProperty("version").GetInt64());
        Assert.Equal(Output(swapped, 0).P, Output(after, 0).P);
        Assert.Contains("Refused the new", Server.Log);
    }

    private async Task<JsonDocument> WaitForVersion(long version)
    {
        for (int i = 0; i < 150; i++)
        {
            var doc = await Server.PostJson("/v1/models/swap/predict", Inputs("great fun"));
            if (doc.RootElement.GetProperty("version").GetInt64() == version) return doc;
            doc.Dispose();
            await Task.Delay(100, Ct);
        }
        throw new Xunit.Sdk.XunitException($"the model was not swapped to version {version} within 15 s:\n{Server.Log}");
    }

    [Fact]
    public async Task MetricsCountRequestsByStatusInPrometheusText()
    {
        using (await Server.PostJson("/v1/models/cls/predict", Inputs("fine"))) { }
        using (await Server.PostJson("/v1/models/none/predict", Inputs("fine"), HttpStatusCode.NotFound)) { }
        using var response = await Server.Client.GetAsync("/metrics", Ct);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString());
        string text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(Metric(text, "recur_serve_requests_total{model=\"cls\",endpoint=\"predict\",status=\"200\"}") >= 1, text);
        Assert.True(Metric(text, "recur_serve_requests_total{model=\"\",endpoint=\"predict\",status=\"404\"}") >= 1, text);
        Assert.Contains("# TYPE recur_serve_request_duration_seconds histogram", text);
        Assert.Contains("recur_serve_queue_depth", text);
    }
}

/// <summary>Servers of their own: the queue bound, the request timeout and the SIGTERM drain.</summary>
public class ServeLifecycleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A decode that can only end by cancellation, past --request-timeout-ms: 503 with Retry-After, and the decode stops.</summary>
    [Fact]
    public async Task ARequestPastItsTimeoutGets503AndItsDecodeStops()
    {
        using var dir = new Data.TempDir();
        string endless = TinyModels.EndlessTranslator(dir.Path, "endless");
        await using var server = await ServerProcess.StartAsync("--model", endless, "--request-timeout-ms", "1500");
        using var response = await server.Client.PostAsync("/v1/models/endless/translate",
            new StringContent("{\"inputs\": [\"boring\"], \"beam\": 2}", System.Text.Encoding.UTF8, "application/json"), Ct);
        string body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, body);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        Assert.Contains("--request-timeout-ms", JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString());
        // The answer is sent once the decode has stopped, so the counter already shows it.
        string metrics = await server.Get("/metrics");
        Assert.Equal(1, ServeTests.Metric(metrics, "recur_serve_work_cancelled_total{model=\"endless\",endpoint=\"translate\",reason=\"timeout\"}"));
        Assert.Equal(0, ServeTests.Metric(metrics, "recur_serve_work_in_progress{model=\"endless\",endpoint=\"translate\"}"));
    }

    [Fact]
    public async Task AFullServerAnswers429WithRetryAfterAndSigtermDrainsTheStreamInFlight()
    {
        using var dir = new Data.TempDir();
        string lm = TinyModels.LanguageModel(dir.Path, "lm");
        await using var server = await ServerProcess.StartAsync("--model", lm, "--max-concurrent", "1", "--max-queue", "0", "--max-generate-length", "100000");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/lm/generate")
        {
            Content = new StringContent("""{"prompt": "the", "length": 3000}""", System.Text.Encoding.UTF8, "application/json"),
        };
        using var stream = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        var firstEvent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = ServeTests.ReadEvents(stream, n => { if (n == 1) firstEvent.TrySetResult(); });
        await firstEvent.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        // The one slot is taken and nothing may wait: refused at once, with a time to retry.
        using var full = await server.Client.PostAsync("/v1/models/lm/predict", new StringContent("{\"inputs\": [\"a\"]}", System.Text.Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, full.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), full.Headers.RetryAfter?.Delta);
        // SIGTERM: the stream in flight still runs to its done event, then the process exits cleanly.
        CliRunner.Signal(server.Process, "TERM");
        var events = await reading.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        Assert.Equal("done", events[^1].Name);
        Assert.Equal(3000, events.Count(e => e.Name == "token"));
        await server.Process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(0, server.Process.ExitCode);
        Assert.Contains("draining", server.Log);
    }
}
