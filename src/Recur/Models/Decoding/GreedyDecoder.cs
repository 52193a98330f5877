using Recur.Nn;

namespace Recur.Models.Decoding;

/// <summary>
/// Greedy decoding: the most likely token at each step, until the end token or a maximum length; optionally never
/// repeating an n-gram (<c>noRepeatNgram</c>: a token that would complete an n-gram already in the output is skipped).
/// </summary>
public static class GreedyDecoder
{
    /// <summary>
    /// Starting from <paramref name="start"/> with <paramref name="bos"/> as the first input, feeds back the argmax of
    /// each step's scores. Returns the tokens before <paramref name="eos"/> (at most <paramref name="maxLength"/>).
    /// </summary>
    public static int[] Decode(ITokenStepper model, RecurrentState start, int bos, int eos, int maxLength, int noRepeatNgram = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        return DecodeBatch(new SingleInputStepper(model), start, bos, eos, maxLength, noRepeatNgram)[0].Tokens;
    }

    /// <summary>
    /// Greedy decoding of all <see cref="IBatchTokenStepper.Inputs"/> inputs at once: one model call per step for the
    /// outputs that have not ended. <paramref name="start"/> holds one state per input, (L, N, H). Each output is what
    /// decoding its input alone gives.
    /// </summary>
    public static Decoded[] DecodeBatch(IBatchTokenStepper model, RecurrentState start, int bos, int eos, int maxLength, int noRepeatNgram = 0) =>
        DecodeBatch(model, start, bos, eos, maxLength, noRepeatNgram, CancellationToken.None);

    /// <summary>
    /// <see cref="DecodeBatch(IBatchTokenStepper, RecurrentState, int, int, int, int)"/>, checking
    /// <paramref name="cancellationToken"/> once per output step (a server stops the work of a client that went away).
    /// </summary>
    /// <exception cref="OperationCanceledException">The token was cancelled before the decoding ended.</exception>
    public static Decoded[] DecodeBatch(IBatchTokenStepper model, RecurrentState start, int bos, int eos, int maxLength, int noRepeatNgram,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(start);
        if (noRepeatNgram < 0) throw new ArgumentOutOfRangeException(nameof(noRepeatNgram), noRepeatNgram, "noRepeatNgram must be >= 0 (0: no blocking)");
        int n = model.Inputs, v = model.VocabularySize;
        if (start.Hidden.Dim(1) != n)
            throw new ArgumentException($"start must hold one state per input (expected {n}, got {start.Hidden.Dim(1)})", nameof(start));
        var outputs = new List<int>[n];
        var ended = new bool[n];
        for (int i = 0; i < n; i++) outputs[i] = [];
        int[] live = [.. Enumerable.Range(0, n)];   // the inputs still decoding, one state row each
        var state = start;
        for (int step = 0; step < maxLength && live.Length > 0; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] last = [.. live.Select(i => outputs[i].Count == 0 ? bos : outputs[i][^1])];
            var (scores, next) = model.Step(last, live, state);
            var keep = new List<int>(live.Length);
            for (int r = 0; r < live.Length; r++)
            {
                var row = scores.AsSpan(r * v, v);
                Hypotheses.BlockRepeats(row, outputs[live[r]], noRepeatNgram);
                int token = TensorPrimitives.IndexOfMax(row);
                if (token == eos) ended[live[r]] = true;
                else { outputs[live[r]].Add(token); keep.Add(r); }
            }
            if (keep.Count == 0) break;
            state = keep.Count == live.Length ? next : Hypotheses.Gather(next, [.. keep]);
            live = [.. keep.Select(r => live[r])];
        }
        return [.. Enumerable.Range(0, n).Select(i => new Decoded([.. outputs[i]], ended[i]))];
    }
}
