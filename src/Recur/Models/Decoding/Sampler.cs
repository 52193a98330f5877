using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models.Decoding;

/// <summary>
/// Sampling decoder: draws each token from the model's logits with <see cref="Sampling.Sample"/> (temperature,
/// top-k, top-p; temperature 0 is greedy) and feeds it back.
/// </summary>
/// <param name="Temperature">Softmax temperature, >= 0.</param>
/// <param name="TopK">Keep the k most likely tokens (0 = all).</param>
/// <param name="TopP">Keep the smallest set whose probability reaches p (1 = all).</param>
public sealed record Sampler(float Temperature, int TopK = 0, float TopP = 1f)
{
    /// <summary>
    /// Draws <paramref name="length"/> tokens for one hypothesis, starting from the logits the model gave for the
    /// last token of its prompt and the state after it. Draws one <see cref="Rng"/> value per token (none at
    /// temperature 0), so a seeded run repeats.
    /// </summary>
    public int[] Generate(ITokenStepper model, float[] logits, RecurrentState state, int length, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(logits);
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be >= 0");
        return [.. Tokens(model, logits, state, length, rng)];
    }

    /// <summary>
    /// The tokens of <see cref="Generate"/>, one at a time as each is drawn (for streaming); the same tokens in the same
    /// order from the same <paramref name="rng"/>. A caller that stops enumerating stops the decoding.
    /// </summary>
    public IEnumerable<int> Stream(ITokenStepper model, float[] logits, RecurrentState state, int length, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(logits);
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be >= 0");
        return Tokens(model, logits, state, length, rng);
    }

    private IEnumerable<int> Tokens(ITokenStepper model, float[] logits, RecurrentState state, int length, Rng rng)
    {
        for (int i = 0; i < length; i++)
        {
            int id = Sampling.Sample(logits, Temperature, TopK, TopP, rng);
            yield return id;
            if (i + 1 < length) (logits, state) = model.Step([id], state);
        }
    }
}
