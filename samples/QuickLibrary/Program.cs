using Recur.IO;

var model = ModelFile.Load("model.recur");          // written by `recur train --task classify ...`
var prediction = model.Classify("The food was great");
Console.WriteLine($"{prediction.Label} {prediction.Probability:F3}");

// The lines above are README.md's "Use it from your application" example, as written there (ReadmeSampleTests keeps
// the two equal); .ci/run runs this program in the run folder of a model the recur tool trained. The rest runs the
// README's first library example, then trains a model with the Trainer, saves it, loads it back and checks that the
// loaded model predicts exactly what the trained one does.
if (prediction.Probability is not (> 0f and <= 1f) || !model.Labels!.Contains(prediction.Label))
{
    Console.Error.WriteLine($"the README example gave label '{prediction.Label}' with probability {prediction.Probability}; expected one of the model's labels, with 0 < p <= 1");
    return 1;
}
QuickLibrary.FirstLook.Run();
return QuickLibrary.RoundTrip.Run();
