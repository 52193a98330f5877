namespace Recur.Models.Decoding;

/// <summary>A CTC decoding result: the labels (blanks removed, repeats merged) and their log-probability.</summary>
/// <param name="Labels">The output labels, 1..C-1.</param>
/// <param name="LogProbability">
/// log p(labels | x): for <see cref="CtcPrefixBeamSearch"/> the sum over the alignments the beam kept (all of them
/// when nothing was pruned); for <see cref="CtcGreedyDecoder"/> the log-probability of the single best path.
/// </param>
public sealed record CtcHypothesis(int[] Labels, double LogProbability);
