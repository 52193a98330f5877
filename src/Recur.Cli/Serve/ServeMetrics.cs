using Prometheus;

namespace Recur.Cli.Serve;

/// <summary>
/// The server's Prometheus metrics (prometheus-net, in a registry of their own so that only these are exported):
/// requests by model, endpoint and status; request latency; batch sizes; queue depth; model work in progress and cancelled; model reloads.
/// </summary>
internal sealed class ServeMetrics
{
    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    public ServeMetrics()
    {
        var f = Prometheus.Metrics.WithCustomRegistry(Registry);
        Requests = f.CreateCounter("recur_serve_requests_total", "HTTP requests answered, by model, endpoint and status code",
            new CounterConfiguration { LabelNames = ["model", "endpoint", "status"] });
        Latency = f.CreateHistogram("recur_serve_request_duration_seconds", "Time from request to the end of the response, by model and endpoint",
            new HistogramConfiguration { LabelNames = ["model", "endpoint"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        BatchSize = f.CreateHistogram("recur_serve_batch_size", "Inputs per engine call of the dynamic batcher, by model",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256] });
        QueueDepth = f.CreateGauge("recur_serve_queue_depth", "Requests waiting: for a slot (queue=admission, model=*) or for a batch (queue=batch)",
            new GaugeConfiguration { LabelNames = ["model", "queue"] });
        Running = f.CreateGauge("recur_serve_work_in_progress", "Model work running now outside the predict batcher (translate decodes, transcriptions, music generation), by model and endpoint",
            new GaugeConfiguration { LabelNames = ["model", "endpoint"] });
        Cancelled = f.CreateCounter("recur_serve_work_cancelled_total", "Model work stopped before its end because the client went away or the request timed out, by model, endpoint and reason (client, timeout)",
            new CounterConfiguration { LabelNames = ["model", "endpoint", "reason"] });
        Reloads = f.CreateCounter("recur_serve_model_reloads_total", "Model file reloads by model and result (ok, refused)",
            new CounterConfiguration { LabelNames = ["model", "result"] });
    }

    public Counter Requests { get; }
    public Histogram Latency { get; }
    public Histogram BatchSize { get; }
    public Gauge QueueDepth { get; }
    public Counter Reloads { get; }
    public Gauge Running { get; }
    public Counter Cancelled { get; }
}
