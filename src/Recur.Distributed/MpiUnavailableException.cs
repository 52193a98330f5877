namespace Recur.Distributed;

/// <summary>Thrown when the MPI library cannot be loaded or started (not installed, or another MPI's ABI).</summary>
public sealed class MpiUnavailableException(string message) : Exception(message);
