using Recur.Nn;

namespace Recur.Models.Decoding;

/// <summary>
/// One step of an autoregressive token model, which is all a decoder (<see cref="GreedyDecoder"/>,
/// <see cref="BeamSearch"/>, <see cref="Sampler"/>) needs: given the last token of each of W hypotheses and their
/// recurrent state, the scores of every next token and the state after the step.
/// </summary>
public interface ITokenStepper
{
    /// <summary>Vocabulary size V.</summary>
    int VocabularySize { get; }

    /// <summary>
    /// Advances W hypotheses by one token each. Returns scores (W*V, hypothesis-major: log-probabilities for
    /// <see cref="BeamSearch"/>, logits are enough for the others) and the new state, (L, W, H) like the given one.
    /// </summary>
    /// <param name="tokens">The last token of each hypothesis (W).</param>
    /// <param name="state">The hypotheses' state, (L, W, H); the stepper does not change it.</param>
    (float[] Scores, RecurrentState State) Step(int[] tokens, RecurrentState state);
}
