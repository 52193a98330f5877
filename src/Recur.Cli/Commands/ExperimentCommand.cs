using System.CommandLine;
using Recur.Cli.Experiments;
using Recur.Nn;

namespace Recur.Cli.Commands;

/// <summary><c>recur experiment NAME</c>: the documented experiments on the real datasets (docs/results.md).</summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var cmd = new Command("experiment", "Run one of the documented experiments on the shared datasets (see docs/results.md)");
        var data = new Option<string>("--data") { Description = "Folder holding the datasets (tiny-shakespeare, uci-sentiment, timeseries, ...)", DefaultValueFactory = _ => Path.Combine("..", "shared", "data") };
        var seed = new Option<ulong>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42 };
        var output = new Option<string>("--output") { Description = "Folder where trained models are saved", DefaultValueFactory = _ => "recur-runs" };
        cmd.Options.Add(data);
        cmd.Options.Add(seed);
        cmd.Options.Add(output);

        var sentiment = new Command("sentiment", "BiLSTM vs bag-of-words on the UCI sentiment sentences (80/20 split)");
        var sEpochs = new Option<int>("--epochs") { Description = "Maximum epochs (early stopping on validation accuracy)", DefaultValueFactory = _ => 12 };
        var sCell = new Option<RecurrentMode>("--cell") { Description = "Recurrent cell", DefaultValueFactory = _ => RecurrentMode.Lstm };
        var sPool = new Option<Pooling>("--pooling") { Description = "Pooling over time", DefaultValueFactory = _ => Pooling.Max };
        foreach (var o in new Option[] { sEpochs, sCell, sPool }) sentiment.Options.Add(o);
        sentiment.SetAction(r =>
        {
            SentimentExperiment.Run(new SentimentExperiment.Options(Path.Combine(r.GetValue(data)!, "uci-sentiment"), r.GetValue(seed),
                Epochs: r.GetValue(sEpochs), Cell: r.GetValue(sCell), Pooling: r.GetValue(sPool), Output: r.GetValue(output)));
            return 0;
        });
        cmd.Subcommands.Add(sentiment);

        var charlm = new Command("char-lm", "Character LSTM language model on tiny-shakespeare (90/10 split)");
        var cEpochs = new Option<int>("--epochs") { Description = "Passes over the training text", DefaultValueFactory = _ => 10 };
        var cLayers = new Option<int>("--layers") { Description = "LSTM layers", DefaultValueFactory = _ => 2 };
        var cHidden = new Option<int>("--hidden") { Description = "LSTM hidden units", DefaultValueFactory = _ => 256 };
        var cMinutes = new Option<double?>("--minutes") { Description = "Stop after this many minutes (default: no limit)" };
        var cChars = new Option<int?>("--max-chars") { Description = "Use only the first N characters (quick runs)" };
        foreach (var o in new Option[] { cEpochs, cLayers, cHidden, cMinutes, cChars }) charlm.Options.Add(o);
        charlm.SetAction(r =>
        {
            CharLmExperiment.Run(new CharLmExperiment.Options(Path.Combine(r.GetValue(data)!, "tiny-shakespeare"), r.GetValue(seed),
                Epochs: r.GetValue(cEpochs), Layers: r.GetValue(cLayers), Hidden: r.GetValue(cHidden), Minutes: r.GetValue(cMinutes), MaxChars: r.GetValue(cChars), Output: r.GetValue(output)));
            return 0;
        });
        cmd.Subcommands.Add(charlm);

        var forecast = new Command("forecast", "LSTM forecaster vs naive and seasonal-naive on a shared series (last third as test)");
        var fSeries = new Argument<string>("series") { Description = "airline, sunspots or co2", DefaultValueFactory = _ => "airline" };
        var fSeeds = new Option<int>("--seeds") { Description = "Independent runs (different seeds) to average", DefaultValueFactory = _ => 5 };
        var fLevels = new Option<bool>("--levels") { Description = "Model the levels instead of first differences" };
        var fHidden = new Option<int>("--hidden") { Description = "LSTM hidden units", DefaultValueFactory = _ => 32 };
        forecast.Arguments.Add(fSeries);
        foreach (var o in new Option[] { fSeeds, fLevels, fHidden }) forecast.Options.Add(o);
        forecast.SetAction(r =>
        {
            ForecastExperiment.Run(new ForecastExperiment.Options(Path.Combine(r.GetValue(data)!, "timeseries"), r.GetValue(fSeries)!, r.GetValue(seed),
                Seeds: r.GetValue(fSeeds), Hidden: r.GetValue(fHidden), Difference: !r.GetValue(fLevels)));
            return 0;
        });
        cmd.Subcommands.Add(forecast);

        var tagging = new Command("tagging", "BiLSTM part-of-speech tagger on a generated corpus read from CoNLL files");
        var tOut = new Option<string>("--work") { Description = "Folder for the generated CoNLL files", DefaultValueFactory = _ => Path.Combine("recur-runs", "tagging") };
        tagging.Options.Add(tOut);
        tagging.SetAction(r => { TaggingExperiment.Run(new TaggingExperiment.Options(r.GetValue(tOut)!, r.GetValue(seed))); return 0; });
        cmd.Subcommands.Add(tagging);

        var translation = new Command("translation", "Attention encoder-decoder, French to English on the Tatoeba pairs (tutorial filter), BLEU greedy and beam");
        var trEpochs = new Option<int>("--epochs") { Description = "Training epochs (best validation epoch kept)", DefaultValueFactory = _ => 20 };
        var trSs = new Option<float>("--scheduled-sampling") { Description = "Final scheduled-sampling ratio (rises linearly from 0); 0 = teacher forcing", DefaultValueFactory = _ => 0f };
        var trBeam = new Option<int>("--beam") { Description = "Beam width", DefaultValueFactory = _ => 5 };
        foreach (var o in new Option[] { trEpochs, trSs, trBeam }) translation.Options.Add(o);
        translation.SetAction(r =>
        {
            TranslationExperiment.Run(new TranslationExperiment.Options(Path.Combine(r.GetValue(data)!, "eng-fra"), r.GetValue(seed),
                Epochs: r.GetValue(trEpochs), ScheduledSampling: r.GetValue(trSs), Beam: r.GetValue(trBeam), Output: r.GetValue(output)));
            return 0;
        });
        cmd.Subcommands.Add(translation);

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

        var speech = new Command("speech", "Spoken digits (FSDD): MFCC frames and a bidirectional GRU, official take-based split");
        var spEpochs = new Option<int>("--epochs") { Description = "Maximum epochs (best validation epoch kept)", DefaultValueFactory = _ => 30 };
        speech.Options.Add(spEpochs);
        speech.SetAction(r =>
        {
            SpeechExperiment.Run(new SpeechExperiment.Options(Path.Combine(r.GetValue(data)!, "fsdd"), r.GetValue(seed), Epochs: r.GetValue(spEpochs), Output: r.GetValue(output)));
            return 0;
        });
        cmd.Subcommands.Add(speech);

        var music = new Command("music", "Piano-roll generator conditioned on key and mode, on generated scales and arpeggios; writes MIDI");
        var muEpochs = new Option<int>("--epochs") { Description = "Training steps (one batch of all training pieces)", DefaultValueFactory = _ => 800 };
        music.Options.Add(muEpochs);
        music.SetAction(r => { MusicExperiment.Run(new MusicExperiment.Options(Path.Combine(r.GetValue(output)!, "music"), r.GetValue(seed), Epochs: r.GetValue(muEpochs))); return 0; });
        cmd.Subcommands.Add(music);

        var memory = new Command("memory", "RNN vs feed-forward on tasks that need memory (delayed echo, order of two symbols)");
        memory.SetAction(r => { MemoryExperiment.Run(r.GetValue(seed)); return 0; });
        cmd.Subcommands.Add(memory);
        return cmd;
    }
}
