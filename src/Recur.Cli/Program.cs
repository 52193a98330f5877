using System.CommandLine;
using Recur.Cli.Commands;

var root = new RootCommand("recur: recurrent neural networks (RNN, LSTM, GRU) for .NET");
root.Subcommands.Add(QuickstartCommand.Create());
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(ExperimentCommand.Create());
return root.Parse(args).Invoke();
