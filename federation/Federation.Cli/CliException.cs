namespace Federation.Cli;

/// <summary>A failure the user can act on: printed as one line plus a hint, without a stack trace.</summary>
public sealed class CliException(string message, string? hint = null, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>What to do about it, or null.</summary>
    public string? Hint { get; } = hint;
}
