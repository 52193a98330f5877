namespace Recur;

/// <summary>
/// The one documented error for malformed input files (model files, safetensors, data files): the message names
/// the file, the place in it (byte offset, line, field or tensor) and what was expected versus found.
/// </summary>
public sealed class RecurFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The file (or stream description) that is malformed.</param>
    /// <param name="location">Where in it: "header", "line 12", "tensor 'x' field 'shape'", ...</param>
    /// <param name="problem">What was expected versus what was found.</param>
    public RecurFormatException(string source, string location, string problem)
        : base($"{source}: {location}: {problem}")
    {
        Source = source;
        Location = location;
        Problem = problem;
    }

    /// <summary>The file that is malformed.</summary>
    public new string Source { get; }

    /// <summary>Where in the file.</summary>
    public string Location { get; }

    /// <summary>What was expected versus found.</summary>
    public string Problem { get; }
}
