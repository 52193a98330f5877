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
using Recur.Models.Decoding;

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
            try
            {
                await next(ctx);
                // Routing answers a JSON endpoint called with another Content-Type with a bare 415 (its Accepts
                // metadata) before our own check runs: give it the same problem+json body every other error has.
                if (ctx.Response.StatusCode == 415 && !ctx.Response.HasStarted)
                    await Problem(ctx, new RequestError(415, "unsupported media type",
                        $"expected Content-Type application/json, found {ctx.Request.ContentType ?? "none"}", "Content-Type"));
            }
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
            .WithSummary("Text from a language model, streamed token by token (token events, then done), or a piece from a music model, streamed step by step (step events, then done), as Server-Sent Events")
            .Accepts<GenerateRequest>("application/json").Produces(200, contentType: "text/event-stream").ProducesProblem(400).ProducesProblem(404);
        app.MapPost("/v1/models/{name}/translate", (HttpContext ctx, string name) => Handle(ctx, name, "translate", Translate))
            .WithSummary("Translations of source sentences with a seq2seq model (beam search, or greedy with beam 1)")
            .Accepts<TranslateRequest>("application/json").Produces<TranslateResponse>().ProducesProblem(400).ProducesProblem(404);
        app.MapPost("/v1/models/{name}/transcribe", (HttpContext ctx, string name, int? beam, string? grammar) => Handle(ctx, name, "transcribe", (c, m, t) => Transcribe(c, m, beam, grammar, t)))
            .WithSummary("The transcription of a WAV body (PCM 8/16-bit mono at the model's sample rate) with a speech recogniser; beam and grammar (digits:MIN-MAX) as recur transcribe takes them")
            .Produces<TranscribeResponse>().ProducesProblem(400).ProducesProblem(404).ProducesProblem(413).ProducesProblem(415);
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
            if (!Predictions.Endpoints(model.Task).Contains(endpoint))
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
        var translations = await Work(ctx, model, "translate", token, () => Predictions.Translations(model, inputs, request.Beam, token));
        await ctx.Response.WriteAsJsonAsync(new TranslateResponse(model.Name, model.Version, translations), ServeJsonContext.Default.TranslateResponse, cancellationToken: token);
    }

    /// <summary>
    /// Runs model work that is not batched on the thread pool, counted in <see cref="ServeMetrics.Running"/>; when
    /// <paramref name="token"/> stops it (the work checks it), <see cref="ServeMetrics.Cancelled"/> counts it by reason.
    /// </summary>
    private async Task<T> Work<T>(HttpContext ctx, ServedModel model, string endpoint, CancellationToken token, Func<T> work)
    {
        var running = metrics.Running.WithLabels(model.Name, endpoint);
        try
        {
            return await Task.Run(() =>
            {
                running.Inc();
                try { return work(); }
                finally { running.Dec(); }
            }, token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            metrics.Cancelled.WithLabels(model.Name, endpoint, ctx.RequestAborted.IsCancellationRequested ? "client" : "timeout").Inc();
            throw;
        }
    }

    /// <summary>
    /// The WAV body through <see cref="ModelBundle.TranscribeWav"/>, the path <c>recur transcribe</c> takes for a file,
    /// with its decoder: <paramref name="beam"/> and <paramref name="grammar"/> as given, else the model's training values.
    /// </summary>
    private async Task Transcribe(HttpContext ctx, ServedModel model, int? beam, string? grammar, CancellationToken token)
    {
        if (ctx.Request.ContentLength > options.MaxRequestBytes)
            throw new RequestError(413, "request too large", $"the body is {ctx.Request.ContentLength} bytes, over {options.MaxRequestBytes} (--max-request-bytes)", "body");
        if (ctx.Request.ContentType is { } ct && ct.Split(';')[0].Trim().ToLowerInvariant() is not ("audio/wav" or "audio/x-wav" or "audio/wave" or "audio/vnd.wave" or "application/octet-stream"))
            throw new RequestError(415, "unsupported media type", $"expected Content-Type audio/wav or application/octet-stream (a WAV file), found {ct}", "Content-Type");
        var given = new Dictionary<string, string>(StringComparer.Ordinal);
        if (beam is { } b)
        {
            if (b is < 1 or > 10_000) throw RequestError.BadField("beam", $"expected an integer in [1, 10000], found {b}");
            given["beam"] = b.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (grammar is not null)
        {
            // words:FILE and list:FILE name files; a request may not make the server read its files.
            if (!grammar.Trim().StartsWith("digits:", StringComparison.Ordinal))
                throw RequestError.BadField("grammar", $"expected digits:MIN-MAX (words:FILE and list:FILE name files on the server, which a request may not read), found '{grammar}'");
            given["grammar"] = grammar;
        }
        var settings = model.Settings.With(given);
        CtcPrefixBeamSearch? search;
        try { search = Train.AsrTask.Search(settings, new CharacterSet(model.Bundle.Labels!)); }
        catch (ArgumentException e) { throw RequestError.BadField(e.Message.StartsWith("--beam", StringComparison.Ordinal) ? "beam" : "grammar", e.Message); }
        byte[] wav;
        using (var body = new MemoryStream())
        {
            await ctx.Request.Body.CopyToAsync(body, token);
            wav = body.ToArray();
        }
        if (wav.Length == 0) throw RequestError.BadField("body", "expected a WAV file, found an empty body");
        var limits = settings.Limits with { MaxSequenceLength = options.MaxSequenceLength };
        string text;
        try { text = await Work(ctx, model, "transcribe", token, () => model.Bundle.TranscribeWav(wav, "body", limits, search)); }
        catch (RecurFormatException e) { throw RequestError.BadField("body", e.Message); }
        await ctx.Response.WriteAsJsonAsync(new TranscribeResponse(model.Name, model.Version, text), ServeJsonContext.Default.TranscribeResponse, cancellationToken: token);
    }

    private async Task Generate(HttpContext ctx, ServedModel model, CancellationToken token)
    {
        var r = await Body(ctx, ServeJsonContext.Default.GenerateRequest, token);
        string unit = model.Task == "music" ? "steps" : "tokens";
        if (r.Length < 1 || r.Length > options.MaxGenerateLength) throw RequestError.BadField("length", $"expected 1 to {options.MaxGenerateLength} {unit} (--max-generate-length), found {r.Length}");
        if (!(r.Temperature >= 0) || !float.IsFinite(r.Temperature)) throw RequestError.BadField("temperature", $"expected >= 0, found {r.Temperature}");
        if (r.TopK < 0) throw RequestError.BadField("top_k", $"expected >= 0, found {r.TopK}");
        if (!(r.TopP > 0 && r.TopP <= 1)) throw RequestError.BadField("top_p", $"expected a value in (0, 1], found {r.TopP}");
        if (model.Task == "music")
        {
            await GeneratePiece(ctx, model, r, token);
            return;
        }
        if (r.Start is not null) throw RequestError.BadField("start", "a language model continues a prompt; start (piano-roll steps) is for music models");
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

    /// <summary>
    /// A music model's piece, as <c>recur generate</c> makes it (<see cref="Train.MusicTask.Generate"/>, the same seed
    /// gives the same piece), streamed one step event per step, then done. The piece is sampled whole first (at most
    /// --max-generate-length steps), then sent.
    /// </summary>
    private async Task GeneratePiece(HttpContext ctx, ServedModel model, GenerateRequest r, CancellationToken token)
    {
        // The sampler of a piano roll draws each key on or off: it has no top-k or top-p, and no text prompt.
        if (r.Prompt.Length > 0) throw RequestError.BadField("prompt", "a music model takes no text prompt; start its piece with start (piano-roll steps)");
        if (r.TopK != 0) throw RequestError.BadField("top_k", $"a music model draws each key on or off (temperature only), so top_k cannot apply; leave it out (found {r.TopK})");
        if (r.TopP != 1) throw RequestError.BadField("top_p", $"a music model draws each key on or off (temperature only), so top_p cannot apply; leave it out (found {r.TopP})");
        Piece? start = null;
        if (r.Start is { } steps)
        {
            if (steps.Length == 0) throw RequestError.BadField("start", "expected at least one step (a list of MIDI pitches), found an empty array");
            for (int t = 0; t < steps.Length; t++)
            {
                if (steps[t] is null) throw RequestError.BadField($"start[{t}]", "expected a list of MIDI pitches, found null");
                int lowest = model.Bundle.Preprocessing?.Music?.LowestPitch ?? 0, range = ((ConditionalGenerator)model.Bundle.Model).Config.FrameSize;
                foreach (int p in steps[t])
                    if (p < lowest || p >= lowest + range)
                        throw RequestError.BadField($"start[{t}]", $"expected MIDI pitches in the model's range [{lowest}, {lowest + range - 1}], found {p}");
            }
            start = new Piece(steps);
        }
        var piece = await Work(ctx, model, "generate", token, () => Train.MusicTask.Generate(model.Bundle, start, r.Length, r.Temperature, r.Seed));
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        ctx.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        for (int t = 0; t < piece.Steps.Length; t++)
        {
            token.ThrowIfCancellationRequested();
            await Event(ctx, "step", JsonSerializer.Serialize(new StepEvent(t, piece.Steps[t]), ServeJsonContext.Default.StepEvent), token);
        }
        await Event(ctx, "done", JsonSerializer.Serialize(new PieceDoneEvent(piece.Steps.Length, Train.MusicTask.Show(piece)), ServeJsonContext.Default.PieceDoneEvent), token);
    }

    private static async Task Event(HttpContext ctx, string name, string json, CancellationToken token)
    {
        await ctx.Response.WriteAsync($"event: {name}\ndata: {json}\n\n", Encoding.UTF8, token);
        await ctx.Response.Body.FlushAsync(token);
    }
}
