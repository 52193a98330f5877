using System.CommandLine;
using System.Globalization;
using Recur.Cli.Experiments;
using Recur.Cli.Train;

namespace Recur.Cli.Commands;

/// <summary>
/// <c>recur experiment NAME</c>: the documented experiments on the real datasets (docs/results.md). Each train-task
/// experiment is a preset of <c>recur train</c> (<see cref="Presets"/>) followed by its baseline; any train option
/// given here overrides the preset's. The gradient and memory demonstrations are not train tasks and run as they are.
/// </summary>
internal static class ExperimentCommand
{
    /// <summary>Train options a preset decides itself (its data split, its run folder, the experiment's seed).</summary>
    private static readonly HashSet<string> Controlled = ["task", "data", "valid", "test", "output", "seed"];

    public static Command Create()
    {
        var cmd = new Command("experiment", "Run one of the documented experiments on the shared datasets (see docs/results.md): a preset of `recur train` plus its baseline");
        var data = new Option<string>("--data") { Description = "Folder holding the datasets (tiny-shakespeare, uci-sentiment, timeseries, ...)", DefaultValueFactory = _ => Path.Combine("..", "shared", "data"), Recursive = true };
        var seed = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42, Recursive = true };
        var output = new Option<string>("--output") { Description = "Folder for the experiments' run folders (one per experiment, with its data split)", DefaultValueFactory = _ => "recur-runs", Recursive = true };
        cmd.Options.Add(data);
        cmd.Options.Add(seed);
        cmd.Options.Add(output);
        var dataOnly = new Option<bool>("--data-only") { Description = "Write the experiment's data split under OUTPUT/NAME/data and stop (no training, no baseline)" };

        Command PresetCommand(Preset preset, Func<ParseResult, Preset>? choose = null, Func<ParseResult, Dictionary<string, string>>? extra = null, string? name = null)
        {
            var sub = new Command(name ?? preset.Name, preset.Description + ". Train options given here override the preset's.");
            var overrides = Settings.AddOptions(sub, spec => !Controlled.Contains(spec.Name) && spec.AppliesTo(preset.Task));
            sub.Options.Add(dataOnly);
            foreach (var (key, o) in overrides)
            {
                o.Required = false;
                if (preset.Options.TryGetValue(key, out var v)) o.Description += $" [this preset: {v}]";
            }
            sub.SetAction(r =>
            {
                var p = choose?.Invoke(r) ?? preset;
                var given = overrides.Where(kv => r.GetValue(kv.Value) is not null).ToDictionary(kv => kv.Key, kv => r.GetValue(kv.Value)!.Trim());
                var ex = extra?.Invoke(r) ?? [];
                if (ex.Remove("difference", out var d)) given.TryAdd("difference", d);
                var run = new PresetRun
                {
                    Preset = p, DataRoot = r.GetValue(data)!, Seed = r.GetValue(seed), Overrides = given, Extra = ex,
                    Dir = Path.Combine(r.GetValue(output)!, p.Name), DataOnly = r.GetValue(dataOnly),
                };
                return run.Run();
            });
            cmd.Subcommands.Add(sub);
            return sub;
        }

        PresetCommand(Presets.Sentiment);

        var maxChars = new Option<int?>("--max-chars") { Description = "Use only the first N characters (quick runs)" };
        PresetCommand(Presets.CharLm, extra: r => r.GetValue(maxChars) is { } n ? new() { ["max-chars"] = n.ToString(CultureInfo.InvariantCulture) } : []).Options.Add(maxChars);

        var series = new Argument<string>("series") { Description = "airline, sunspots or co2", DefaultValueFactory = _ => "airline" };
        var levels = new Option<bool>("--levels") { Description = "Model the levels instead of first differences (the same as --difference false)" };
        var forecast = PresetCommand(Presets.Forecast("airline"), r => Presets.Forecast(r.GetValue(series)!), r =>
        {
            var ex = new Dictionary<string, string>();   // --seeds is the train option (the preset's: 5)
            if (r.GetValue(levels)) ex["difference"] = "false";
            return ex;
        }, "forecast");
        forecast.Description = "LSTM forecaster vs naive, seasonal-naive and mean forecasts on a shared series (last third as test), mean ± sd over --seeds (5). Train options given here override the preset's.";
        forecast.Arguments.Add(series);
        forecast.Options.Add(levels);

        PresetCommand(Presets.WordLm);
        PresetCommand(Presets.Tagging);
        PresetCommand(Presets.Translation);
        PresetCommand(Presets.Speech);
        PresetCommand(Presets.Music);

        var gradients = new Command("gradients", "Vanishing and exploding gradients made visible on the adding problem (RNN vs LSTM vs GRU, gradient flow, clipping)");
        var gLength = new Option<int>("--length") { Description = "Sequence length T of the adding problem", DefaultValueFactory = _ => 100 };
        var gSteps = new Option<int>("--steps") { Description = "Training steps per model", DefaultValueFactory = _ => 6000 };
        gradients.Options.Add(gLength);
        gradients.Options.Add(gSteps);
        gradients.SetAction(r =>
        {
            GradientExperiment.Run(new GradientExperiment.Options(Path.Combine(r.GetValue(output)!, "gradients"), r.GetValue(seed), Length: r.GetValue(gLength), Steps: r.GetValue(gSteps)));
            return 0;
        });
        cmd.Subcommands.Add(gradients);

        var memory = new Command("memory", "RNN vs feed-forward on tasks that need memory (delayed echo, order of two symbols)");
        memory.SetAction(r => { MemoryExperiment.Run(r.GetValue(seed)); return 0; });
        cmd.Subcommands.Add(memory);
        return cmd;
    }
}
