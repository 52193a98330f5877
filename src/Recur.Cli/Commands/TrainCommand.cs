using System.CommandLine;
using Recur.Cli.Train;

namespace Recur.Cli.Commands;

/// <summary><c>recur train</c>: reads data in the task's format, trains with progress, writes the run folder.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var cmd = new Command("train", "Train a model on your data: classify, tag, lm, seq2seq, forecast, audio, music or mlp. " +
                                       "Writes config.json, metrics.jsonl, checkpoint.ckpt (while running), model.recur, PNG plots and report.html to --output.");
        var options = Settings.AddOptions(cmd);
        foreach (var o in options.Values) o.Required = false; // --resume needs neither --task nor --data
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --output from its checkpoint, exactly as if it had not stopped (its saved config.json is used)" };
        cmd.Options.Add(resume);
        cmd.SetAction(parse =>
        {
            bool isResume = parse.GetValue(resume);
            Settings settings;
            if (isResume)
            {
                string dir = parse.GetValue(options["output"]) ?? throw new ArgumentException("--resume: expected --output DIR naming the run folder to continue, found none");
                string config = Path.Combine(dir, "config.json");
                if (!File.Exists(config)) throw new FileNotFoundException($"--resume: {config} not found; is {dir} a run folder of `recur train`?", config);
                settings = Settings.FromJson(config);
                var ignored = options.Where(kv => kv.Key != "output" && parse.GetResult(kv.Value) is { Implicit: false }).Select(kv => "--" + kv.Key).ToList();
                if (ignored.Count > 0) Console.WriteLine($"note: resuming with the saved configuration; ignoring {string.Join(", ", ignored)}");
            }
            else settings = Settings.FromParse(parse, options);

            using var ctx = new RunContext(settings, isResume);
            var outcome = TaskRegistry.Get(settings.Task).Train(ctx);
            if (outcome is null) return ctx.Interrupted();
            var r = ctx.Result!;
            ctx.Finish(outcome, $"{settings.Task}: {r.Steps} steps in {r.History.Count} epochs ({r.Reason}), {Experiments.ProgressPrinter.Format(r.Elapsed)}" +
                                (r.Best is { } b ? $", best validation {b.Name} {b.Value:F4} at epoch {r.BestEpoch}" : ""));
            // The run finished and its model is saved: the checkpoint has done its job.
            File.Delete(ctx.CheckpointPath);
            return 0;
        });
        return cmd;
    }
}
