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
        var resume = new Option<bool>("--resume")
        {
            Description = "Continue the run in --output: an interrupted run from its checkpoint, exactly as if it had not stopped; " +
                          "a finished run further, when given a larger --epochs or --max-steps (from its final weights and optimizer state). " +
                          "The run keeps its saved config.json; other options must match it",
        };
        var startOver = new Option<bool>("--start-over")
        {
            Description = "Start from the beginning even though --output holds an earlier run (its checkpoints are removed and its model is replaced); " +
                          "with --resume, the run's saved configuration is used",
        };
        cmd.Options.Add(resume);
        cmd.Options.Add(startOver);
        cmd.SetAction(parse =>
        {
            bool isResume = parse.GetValue(resume), restart = parse.GetValue(startOver);
            Settings settings;
            string? resumeFrom = null;
            if (isResume)
            {
                string dir = Path.GetFullPath(parse.GetValue(options["output"]) ?? throw new ArgumentException("--resume: expected --output DIR naming the run folder to continue, found none"));
                var given = options.Where(kv => kv.Key != "output" && parse.GetResult(kv.Value) is { Implicit: false })
                                   .ToDictionary(kv => kv.Key, kv => (parse.GetValue(kv.Value) ?? "").Trim());
                (settings, resumeFrom) = ResumePlan.Make(dir, given, restart);
            }
            else settings = Settings.FromParse(parse, options);

            // Under mpirun/srun with several ranks: MPI starts here, once the options are read (every rank reads the same).
            DataParallel.StartIfLaunched(settings.Task, settings.Float("collective-timeout", 0.001f));
            using var ctx = new RunContext(settings, resumeFrom, restart);
            TaskOutcome? outcome;
            try
            {
                outcome = TaskRegistry.Get(settings.Task).Train(ctx);
            }
            catch
            {
                ctx.Abandon();
                throw;
            }
            if (outcome is null)
            {
                DataParallel.Finish();
                return DataParallel.Rank == 0 ? ctx.Interrupted() : 130;
            }
            var r = ctx.Result!;
            ctx.Finish(outcome, $"{settings.Task}: {r.Steps} steps in {r.History.Count} epochs ({r.Reason}), {Experiments.ProgressPrinter.Format(r.Elapsed)}" +
                                (r.Best is { } b ? $", best validation {b.Name} {b.Value:F4} at epoch {r.BestEpoch}" : ""));
            // The run finished and its model is saved: the checkpoint has done its job. The final checkpoint stays, so
            // `--resume --epochs N` can train the run further.
            if (DataParallel.Rank == 0) File.Delete(ctx.CheckpointPath);
            DataParallel.Finish();
            return 0;
        });
        return cmd;
    }
}
