using Recur.Nn;

namespace Recur.Models.Decoding;

/// <summary>
/// One step of an autoregressive token model conditioned on N inputs at once (N source sentences): given the last
/// token of each of W hypotheses, the input each hypothesis belongs to and their recurrent state, the scores of every
/// next token and the state after the step. <see cref="GreedyDecoder.DecodeBatch(IBatchTokenStepper, Recur.Nn.RecurrentState, int, int, int, int)"/> and
/// <see cref="BeamSearch.DecodeBatch(IBatchTokenStepper, Recur.Nn.RecurrentState, int, int, int)"/> advance all hypotheses of all inputs in one call per step.
/// </summary>
public interface IBatchTokenStepper
{
    /// <summary>Vocabulary size V.</summary>
    int VocabularySize { get; }

    /// <summary>Inputs N the hypotheses can belong to.</summary>
    int Inputs { get; }

    /// <summary>
    /// Advances W hypotheses by one token each. Returns scores (W*V, hypothesis-major: log-probabilities for
    /// <see cref="BeamSearch"/>, logits are enough for greedy decoding) and the new state, (L, W, H) like the given one.
    /// </summary>
    /// <param name="tokens">The last token of each hypothesis (W).</param>
    /// <param name="inputs">The input each hypothesis belongs to (W), each in [0, <see cref="Inputs"/>).</param>
    /// <param name="state">The hypotheses' state, (L, W, H); the stepper does not change it.</param>
    (float[] Scores, RecurrentState State) Step(int[] tokens, int[] inputs, RecurrentState state);
}

/// <summary>A decoded output: its tokens (without the end token) and whether it ended with the end token (not cut at the length limit).</summary>
/// <param name="Tokens">The tokens before the end token.</param>
/// <param name="Ended">True when the end token was produced; false when the length limit stopped it.</param>
public sealed record Decoded(int[] Tokens, bool Ended);

/// <summary>Runs a single-input <see cref="ITokenStepper"/> as a batch stepper with one input.</summary>
internal sealed class SingleInputStepper(ITokenStepper model) : IBatchTokenStepper
{
    public int VocabularySize => model.VocabularySize;
    public int Inputs => 1;
    public (float[] Scores, RecurrentState State) Step(int[] tokens, int[] inputs, RecurrentState state) => model.Step(tokens, state);
}
