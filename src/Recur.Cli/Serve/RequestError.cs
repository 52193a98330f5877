namespace Recur.Cli.Serve;

/// <summary>
/// A request the server refuses, with the HTTP status and the field it names (a JSON path such as <c>inputs[2]</c>);
/// answered as <c>application/problem+json</c>.
/// </summary>
internal sealed class RequestError(int status, string title, string detail, string? field = null, int? retryAfterSeconds = null) : Exception(detail)
{
    public int Status { get; } = status;
    public string Title { get; } = title;
    public string? Field { get; } = field;
    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public static RequestError BadField(string field, string detail) => new(400, "invalid request", $"{field}: {detail}", field);
}
