using System.Text.Json;

namespace Recur;

/// <summary>
/// Plain-language descriptions of <see cref="JsonException"/>s for <see cref="RecurFormatException"/> messages: without
/// the line, byte-position and path suffixes System.Text.Json appends, and without .NET type names.
/// </summary>
internal static class JsonErrors
{
    /// <summary>What is wrong, in words (a syntax error's description, or what a configuration record expected).</summary>
    public static string Problem(JsonException e, JsonElement? document = null)
    {
        ArgumentNullException.ThrowIfNull(e);
        string m = e.Message;
        if (m.Contains("missing required properties", StringComparison.Ordinal)) return "expected this required field, found none";
        if (m.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
            return $"expected a value of this field's type, found {(document is { } d && Find(d, e.Path) is { } v ? Clip(v.GetRawText()) : "another")}";
        foreach (string suffix in new[] { " Path: ", " LineNumber: " })
            if (m.IndexOf(suffix, StringComparison.Ordinal) is int cut and >= 0) m = m[..cut];
        m = m.Replace(" Change the reader options.", "", StringComparison.Ordinal).Replace(" The string should be correctly escaped.", "", StringComparison.Ordinal);
        return $"expected valid JSON, found: {m.TrimEnd('.')}";
    }

    /// <summary>
    /// The dotted name of the field a deserialisation error is about, under <paramref name="prefix"/>: <c>$.encoder.cell</c>
    /// becomes <c>model.encoder.cell</c>; a missing required field is named after its record.
    /// </summary>
    public static string Field(JsonException e, string prefix)
    {
        ArgumentNullException.ThrowIfNull(e);
        string at = e.Path is { Length: > 2 } p && p.StartsWith("$.", StringComparison.Ordinal) ? prefix + "." + p[2..] : prefix;
        const string Including = "including: ";
        int i = e.Message.IndexOf(Including, StringComparison.Ordinal);
        if (e.Message.Contains("missing required properties", StringComparison.Ordinal) && i >= 0)
            at += "." + e.Message[(i + Including.Length)..].Trim().TrimEnd('.').Trim('\'').Split('\'')[0];
        return at;
    }

    /// <summary>The element at a JSON path such as <c>$.encoder.cell</c> or <c>$.hidden[1]</c>, or null.</summary>
    private static JsonElement? Find(JsonElement root, string? path)
    {
        if (path is null || !path.StartsWith('$')) return null;
        var e = root;
        foreach (string part in path[1..].Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = part;
            int bracket = part.IndexOf('[', StringComparison.Ordinal);
            if (bracket >= 0) name = part[..bracket];
            if (name.Length > 0)
            {
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out e)) return null;
            }
            if (bracket >= 0)
            {
                if (!int.TryParse(part[(bracket + 1)..].TrimEnd(']'), out int k) || e.ValueKind != JsonValueKind.Array || k < 0 || k >= e.GetArrayLength()) return null;
                e = e[k];
            }
        }
        return e;
    }

    private static string Clip(string s) => s.Length <= 40 ? s : s[..37] + "...";
}
