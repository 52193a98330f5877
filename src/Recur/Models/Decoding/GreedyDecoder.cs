using Recur.Nn;

namespace Recur.Models.Decoding;

/// <summary>Greedy decoding: the most likely token at each step, until the end token or a maximum length.</summary>
public static class GreedyDecoder
{
    /// <summary>
    /// Starting from <paramref name="start"/> with <paramref name="bos"/> as the first input, feeds back the argmax of
    /// each step's scores. Returns the tokens before <paramref name="eos"/> (at most <paramref name="maxLength"/>).
    /// </summary>
    public static int[] Decode(ITokenStepper model, RecurrentState start, int bos, int eos, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(start);
        var state = start;
        var result = new List<int>();
        int token = bos;
        for (int step = 0; step < maxLength; step++)
        {
            var (scores, next) = model.Step([token], state);
            state = next;
            token = TensorPrimitives.IndexOfMax(scores);
            if (token == eos) break;
            result.Add(token);
        }
        return [.. result];
    }
}
