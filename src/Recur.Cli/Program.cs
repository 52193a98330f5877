using System.CommandLine;
using Recur.Cli.Commands;

// A plain command named "recur" rather than RootCommand, whose name is the executable's (Recur.Cli under
// `dotnet run` and in the NativeAOT binary); with it, usage lines read "recur train [options]".
var root = new Command("recur", "recur: recurrent neural networks (RNN, LSTM, GRU) for .NET") { new System.CommandLine.Help.HelpOption(), new VersionOption() };
root.Subcommands.Add(QuickstartCommand.Create());
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(ExperimentCommand.Create());
root.Subcommands.Add(TrainCommand.Create());
root.Subcommands.Add(UseCommands.Evaluate());
root.Subcommands.Add(UseCommands.Predict());
root.Subcommands.Add(UseCommands.Generate());
root.Subcommands.Add(UseCommands.Translate());
root.Subcommands.Add(Recur.Cli.Serve.ServeCommand.Create());
root.Subcommands.Add(TranscribeCommand.Create());
root.Subcommands.Add(ModelCommands.Inspect());
root.Subcommands.Add(ModelCommands.Export());
root.Subcommands.Add(ModelCommands.Import());
root.Subcommands.Add(PlotCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(DataCommand.Create());
// `recur bench` passes its options straight to the engine benchmark (shared with bench/Recur.Bench).
if (args is ["bench", ..] && !args.Contains("--help") && !args.Contains("-h")) return Recur.Bench.RnnBenchmark.Run(args[1..]);
try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (e is RecurFormatException or InvalidDataException or ArgumentException or IOException or UnauthorizedAccessException or FormatException or KeyNotFoundException
                              or System.Text.Json.JsonException or Recur.Training.TrainingDivergedException)
{
    // Expected failures (bad input, missing files, a diverged run): one clear line, no stack trace. In a data-parallel
    // run the line names the rank, and every rank stops (MPI_Abort): none waits for this one in a collective.
    Recur.Cli.Train.DataParallel.FailAll(e);
    Console.Error.WriteLine($"recur: error: {e.Message}");
    return 1;
}
catch (Exception e) when (Recur.Cli.Train.DataParallel.Sync is not null)
{
    // Any other failure of one rank of a data-parallel run: the same, with the exception's type for the bug report.
    Recur.Cli.Train.DataParallel.FailAll(new InvalidOperationException($"{e.GetType().Name}: {e.Message}\n{e.StackTrace}"));
    throw;
}
