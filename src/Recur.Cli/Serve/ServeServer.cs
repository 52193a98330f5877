using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using Recur.Kernels;

namespace Recur.Cli.Serve;

/// <summary>
/// The HTTP server of <c>recur serve</c>: Kestrel with minimal APIs from <see cref="WebApplication.CreateSlimBuilder()"/>
/// and source-generated JSON (<see cref="ServeJsonContext"/>), so it runs in the NativeAOT binary.
/// </summary>
internal sealed class ServeServer
{
    private readonly ServeOptions options;
    private readonly ServeMetrics metrics = new();
    private readonly Dictionary<string, ModelSlot> slots = new(StringComparer.Ordinal);
    private readonly Admission admission;
    private volatile bool stopping;

    private ServeServer(ServeOptions options)
    {
        this.options = options;
        admission = new Admission(options.MaxConcurrent, options.MaxQueue, metrics);
    }

    /// <summary>Builds the app: loads every model (a bad file stops the start with its error), maps the endpoints.</summary>
    public static WebApplication Build(ServeOptions options, string[]? args = null)
    {
        // Batched rows must be the bits a request alone gets: every GEMM on the row-invariant path.
        Gemm.BatchInvariant = true;
        var server = new ServeServer(options);
        var builder = WebApplication.CreateSlimBuilder(args ?? []);
        builder.WebHost.UseUrls(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            k.AddServerHeader = false;
        });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; o.UseUtcTimestamp = true; });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromMilliseconds(options.ShutdownTimeoutMs));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, ServeJsonContext.Default));
        builder.Services.AddProblemDetails();
        builder.Services.AddOpenApi();
        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Recur.Serve");
        foreach (var (name, path) in options.Models) server.slots[name] = new ModelSlot(name, path, options, server.metrics, logger);
        app.Lifetime.ApplicationStopping.Register(() =>
        {
            server.stopping = true;
            logger.LogInformation("Stopping: draining requests in flight (up to {Timeout} ms)", options.ShutdownTimeoutMs);
        });
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            logger.LogInformation("Serving {Count} model(s) ({Names}) on {Addresses}", server.slots.Count, string.Join(", ", server.slots.Keys), string.Join(", ", addresses));
        });
        app.Lifetime.ApplicationStopped.Register(() => { foreach (var s in server.slots.Values) s.Dispose(); });
        server.Map(app);
        return app;
    }

    private void Map(WebApplication app)
    {
        app.Use(async (ctx, next) =>
        {
            var watch = Stopwatch.StartNew();
            try { await next(ctx); }
            finally
            {
                string endpoint = ctx.Items["endpoint"] as string ?? "other", model = ctx.Items["model"] as string ?? "";
                int status = ctx.RequestAborted.IsCancellationRequested && !ctx.Response.HasStarted ? 499 : ctx.Response.StatusCode;
                metrics.Requests.WithLabels(model, endpoint, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
                metrics.Latency.WithLabels(model, endpoint).Observe(watch.Elapsed.TotalSeconds);
            }
        });
        app.MapOpenApi();
        app.MapGet("/healthz", () => Results.Text("ok\n")).WithSummary("Liveness: the process answers");
        app.MapGet("/readyz", () => stopping ? Results.Text("stopping\n", statusCode: 503) : Results.Text("ready\n"))
            .WithSummary("Readiness: every model is loaded and the server is not shutting down");
        app.MapGet("/metrics", async (HttpContext ctx) =>
        {
            ctx.Items["endpoint"] = "metrics";
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted);
        }).WithSummary("Prometheus metrics (text format)");
        app.MapGet("/v1/models", (HttpContext ctx) =>
        {
            ctx.Items["endpoint"] = "models";
            return Results.Json(new ModelList([.. slots.Values.Select(s => s.Current.Info())]), ServeJsonContext.Default.ModelList);
        }).WithSummary("The served models, with their metadata").Produces<ModelList>();
        app.MapPost("/v1/models/{name}/predict", (HttpContext ctx, string name) => Handle(ctx, name, "predict", Predict))
            .WithSummary("A batch of inputs to labels and probabilities, tags, next tokens, values, forecasts or translations, by model kind")
            .Accepts<PredictRequest>("application/json").Produces<PredictResponse>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(429);
        app.MapPost("/v1/models/{name}/generate", (HttpContext ctx, string name) => Handle(ctx, name, "generate", Generate))
            .WithSummary("Text from a language model, streamed token by token as Server-Sent Events (token events, then done)")
            .Accepts<GenerateRequest>("application/json").Produces(200, contentType: "text/event-stream").ProducesProblem(400).ProducesProblem(404);
        app.MapPost("/v1/models/{name}/translate", (HttpContext ctx, string name) => Handle(ctx, name, "translate", Translate))
            .WithSummary("Translations of source sentences with a seq2seq model (beam search, or greedy with beam 1)")
            .Accepts<TranslateRequest>("application/json").Produces<TranslateResponse>().ProducesProblem(400).ProducesProblem(404);
        app.MapPost("/v1/models/{name}/transcribe", (HttpContext ctx, string name) => Handle(ctx, name, "transcribe", (_, model, _) =>
                throw new RequestError(501, "not implemented", $"a {model.Task} model has no transcribe: this server serves no speech-recognition models yet", "model")))
            .WithSummary("Speech recognition (WAV body): not served yet").ProducesProblem(404).ProducesProblem(501);
    }

    private delegate Task Endpoint(HttpContext ctx, ServedModel model, CancellationToken token);

    /// <summary>
    /// The common path of every model endpoint: find the model (404), take a slot (429 when full), run with the
    /// client's abort and the request timeout, and turn refusals into problem+json.
    /// </summary>
    private async Task Handle(HttpContext ctx, string name, string endpoint, Endpoint body)
    {
        ctx.Items["endpoint"] = endpoint;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        timeout.CancelAfter(options.RequestTimeoutMs);
        try
        {
            if (!slots.TryGetValue(name, out var slot))
                throw new RequestError(404, "unknown model", $"no model named '{name}' is served (served: {string.Join(", ", slots.Keys)})", "name");
            ctx.Items["model"] = name;
            var model = slot.Current;
            if (!Predictions.Endpoints(model.Task).Contains(endpoint) && endpoint != "transcribe")
                throw new RequestError(404, "no such endpoint for this model", $"a {model.Task} model answers {string.Join(", ", Predictions.Endpoints(model.Task).Select(e => "POST /v1/models/" + name + "/" + e))}, not {endpoint}", "name");
            if (stopping) throw new RequestError(503, "shutting down", "the server is shutting down", retryAfterSeconds: 1);
            using var slotHeld = await admission.EnterAsync(timeout.Token);
            await body(ctx, model, timeout.Token);
        }
        catch (RequestError e) { await Problem(ctx, e); }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { /* the client went away: nothing to answer */ }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            await Problem(ctx, new RequestError(503, "request timed out", $"the request took longer than {options.RequestTimeoutMs} ms (--request-timeout-ms)", retryAfterSeconds: 1));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == 413)
        {
            await Problem(ctx, new RequestError(413, "request too large", $"the body is larger than {options.MaxRequestBytes} bytes (--max-request-bytes)", "body"));
        }
        catch (Exception e) when (e is ArgumentException or RecurFormatException or InvalidOperationException or InvalidDataException)
        {
            // The model refused an input the checks let through: the message names what and why.
            await Problem(ctx, new RequestError(400, "invalid input", e.Message, "inputs"));
        }
    }

    private static async Task Problem(HttpContext ctx, RequestError e)
    {
        if (ctx.Response.HasStarted) return;
        ctx.Response.StatusCode = e.Status;
        if (e.RetryAfterSeconds is { } s) ctx.Response.Headers.RetryAfter = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The rest of an oversized body is never read: the connection cannot carry another request.
        if (e.Status == 413) ctx.Response.Headers.Connection = "close";
        var problem = new ProblemDetails { Status = e.Status, Title = e.Title, Detail = e.Message, Instance = ctx.Request.Path };
        if (e.Field is not null) problem.Extensions["field"] = e.Field;
        await ctx.Response.WriteAsJsonAsync(problem, ServeJsonContext.Default.ProblemDetails, "application/problem+json", ctx.RequestAborted);
    }

    /// <summary>Reads the JSON body; a syntax or type error is a 400 naming the JSON path of the field.</summary>
    private async Task<T> Body<T>(HttpContext ctx, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken token) where T : class
    {
        if (ctx.Request.ContentLength > options.MaxRequestBytes)
            throw new RequestError(413, "request too large", $"the body is {ctx.Request.ContentLength} bytes, over {options.MaxRequestBytes} (--max-request-bytes)", "body");
        if (ctx.Request.ContentType is { } ct && !ct.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            throw new RequestError(415, "unsupported media type", $"expected Content-Type application/json, found {ct}", "Content-Type");
        try
        {
            return await JsonSerializer.DeserializeAsync(ctx.Request.Body, type, token) ?? throw RequestError.BadField("body", "expected a JSON object, found null");
        }
        catch (JsonException e)
        {
            string field = e.Path is { Length: > 1 } p ? p.TrimStart('$').TrimStart('.') : "body";
            throw RequestError.BadField(field, FirstSentence(e.Message));
        }
    }

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    private async Task Predict(HttpContext ctx, ServedModel model, CancellationToken token)
    {
        var request = await Body(ctx, ServeJsonContext.Default.PredictRequest, token);
        if (request.Inputs is not { Length: > 0 } inputs) throw RequestError.BadField("inputs", "expected a non-empty array of inputs, found none");
        var parsed = Predictions.Parse(model, inputs, options.MaxSequenceLength);
        PredictOutput[] outputs;
        while (true)
        {
            if (model.Batcher is null) { outputs = Predictions.Run(model, parsed); break; }
            if (model.Batcher.TryEnqueue(parsed, token, out var pending)) { outputs = await pending; break; }
            // Swapped while we held the old one: run on the new model.
            model = slots[model.Name].Current;
        }
        await ctx.Response.WriteAsJsonAsync(new PredictResponse(model.Name, model.Version, outputs), ServeJsonContext.Default.PredictResponse, cancellationToken: token);
    }

    private async Task Translate(HttpContext ctx, ServedModel model, CancellationToken token)
    {
        var request = await Body(ctx, ServeJsonContext.Default.TranslateRequest, token);
        if (request.Inputs is not { Length: > 0 } inputs) throw RequestError.BadField("inputs", "expected a non-empty array of source sentences, found none");
        if (request.Beam < 1) throw RequestError.BadField("beam", $"expected >= 1, found {request.Beam}");
        for (int i = 0; i < inputs.Length; i++)
        {
            int n = model.Bundle.Tokenizer!.Encode(inputs[i] ?? throw RequestError.BadField($"inputs[{i}]", "expected a string, found null")).Length;
            if (n == 0) throw RequestError.BadField($"inputs[{i}]", "expected a sentence with at least one token, found none");
            if (n > options.MaxSequenceLength) throw RequestError.BadField($"inputs[{i}]", $"expected at most {options.MaxSequenceLength} tokens (--max-sequence-length), found {n}");
        }
        var translations = await Task.Run(() => Predictions.Translations(model, inputs, request.Beam), token);
        await ctx.Response.WriteAsJsonAsync(new TranslateResponse(model.Name, model.Version, translations), ServeJsonContext.Default.TranslateResponse, cancellationToken: token);
    }

    private async Task Generate(HttpContext ctx, ServedModel model, CancellationToken token)
    {
        if (model.Task != "lm")
            throw new RequestError(501, "not implemented", $"a {model.Task} model's generation is not served (piano rolls are not streamed yet): use recur generate", "model");
        var r = await Body(ctx, ServeJsonContext.Default.GenerateRequest, token);
        if (r.Length < 1 || r.Length > options.MaxGenerateLength) throw RequestError.BadField("length", $"expected 1 to {options.MaxGenerateLength} tokens (--max-generate-length), found {r.Length}");
        if (!(r.Temperature >= 0) || !float.IsFinite(r.Temperature)) throw RequestError.BadField("temperature", $"expected >= 0, found {r.Temperature}");
        if (r.TopK < 0) throw RequestError.BadField("top_k", $"expected >= 0, found {r.TopK}");
        if (!(r.TopP > 0 && r.TopP <= 1)) throw RequestError.BadField("top_p", $"expected a value in (0, 1], found {r.TopP}");
        var bundle = model.Bundle;
        var tok = bundle.Tokenizer!;
        if (tok.Encode(r.Prompt).Length > options.MaxSequenceLength)
            throw RequestError.BadField("prompt", $"expected at most {options.MaxSequenceLength} tokens (--max-sequence-length)");
        var tokens = bundle.GenerateTokens(r.Prompt, r.Length, r.Temperature, r.TopK, r.TopP, r.Seed);
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        // Each event carries the text its token adds; held back while the text so far ends inside a character (a
        // byte-level BPE token), so that the events always join to the text so far.
        var ids = new List<int>();
        string shown = r.Prompt;
        await Task.Run(async () =>
        {
            using var e = tokens.GetEnumerator();
            while (true)
            {
                token.ThrowIfCancellationRequested();
                if (!e.MoveNext()) break;
                ids.Add(e.Current);
                string text = Tokenizers.Continue(tok, r.Prompt, ids);
                string delta = !text.EndsWith('\uFFFD') && text.StartsWith(shown, StringComparison.Ordinal) ? text[shown.Length..] : "";
                if (delta.Length > 0) shown = text;
                await Event(ctx, "token", JsonSerializer.Serialize(new TokenEvent(e.Current, delta), ServeJsonContext.Default.TokenEvent), token);
            }
        }, token);
        await Event(ctx, "done", JsonSerializer.Serialize(new DoneEvent(Tokenizers.Continue(tok, r.Prompt, ids), ids.Count), ServeJsonContext.Default.DoneEvent), token);
    }

    private static async Task Event(HttpContext ctx, string name, string json, CancellationToken token)
    {
        await ctx.Response.WriteAsync($"event: {name}\ndata: {json}\n\n", Encoding.UTF8, token);
        await ctx.Response.Body.FlushAsync(token);
    }
}
