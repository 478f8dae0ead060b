using System.Buffers;
using System.Text;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// Rewrites the strings of a compact JSON document into Go's <c>encoding/json</c> form: <c>\"</c>,
/// <c>\\</c>, <c>\b \f \n \r \t</c>, other control characters and <c>&lt; &gt; &amp;</c> as <c>\u00xx</c>
/// (lower-case hex), U+2028/U+2029 as <c>\u2028</c>/<c>\u2029</c>, each invalid UTF-8 byte as the
/// escape <c>\ufffd</c>, everything else as raw UTF-8. A lone surrogate (a .NET string's, or a
/// <c>\ud800</c>-style escape) becomes a raw U+FFFD, as Go decodes such an escape.
/// </summary>
/// <remarks>
/// A custom <c>JavaScriptEncoder</c> would do this inside the writer, but its abstract members take
/// pointers and the project does not allow unsafe code; one pass over the written bytes is the same
/// result. The pass only decodes and re-encodes string contents, so it is idempotent.
/// </remarks>
internal static class GoJsonEscaping
{
    private const string Hex = "0123456789abcdef";

    // Stands for input Go would see as invalid UTF-8.
    private const int Invalid = -1;

    // Bytes that may need a rewrite; a document without any is already in Go's form.
    private static readonly SearchValues<byte> Suspicious = SearchValues.Create(BuildSuspicious());

    public static byte[] Normalize(byte[] json)
    {
        if (json.AsSpan().IndexOfAny(Suspicious) < 0)
        {
            return json;
        }

        var output = new ArrayBufferWriter<byte>(json.Length + 16);
        var inString = false;
        var i = 0;
        while (i < json.Length)
        {
            var b = json[i];
            if (!inString)
            {
                Write(output, b);
                inString = b == (byte)'"';
                i++;
                continue;
            }

            if (b == (byte)'"')
            {
                Write(output, b);
                inString = false;
                i++;
                continue;
            }

            int rune;
            if (b == (byte)'\\')
            {
                i = ReadEscape(json, i, out rune);
            }
            else
            {
                // Go replaces invalid UTF-8 one byte at a time.
                var status = Rune.DecodeFromUtf8(json.AsSpan(i), out var decoded, out var consumed);
                rune = status == OperationStatus.Done ? decoded.Value : Invalid;
                i += status == OperationStatus.Done ? consumed : 1;
            }

            AppendRune(output, rune);
        }

        return output.WrittenSpan.ToArray();
    }

    /// <summary>A JSON string literal for <paramref name="value"/> exactly as Go writes it (quotes included).</summary>
    public static string Quote(string value)
    {
        var output = new ArrayBufferWriter<byte>(value.Length + 2);
        Write(output, (byte)'"');
        foreach (var rune in EnumerateScalars(value))
        {
            AppendRune(output, rune);
        }

        Write(output, (byte)'"');
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    private static IEnumerable<int> EnumerateScalars(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (Rune.TryGetRuneAt(value, i, out var rune))
            {
                yield return rune.Value;
                i += rune.Utf16SequenceLength - 1;
            }
            else
            {
                yield return 0xFFFD;
            }
        }
    }

    // Decodes the escape at json[start] (a backslash); returns the index after it.
    private static int ReadEscape(byte[] json, int start, out int rune)
    {
        var kind = json[start + 1];
        switch (kind)
        {
            case (byte)'b':
                rune = '\b';
                return start + 2;
            case (byte)'f':
                rune = '\f';
                return start + 2;
            case (byte)'n':
                rune = '\n';
                return start + 2;
            case (byte)'r':
                rune = '\r';
                return start + 2;
            case (byte)'t':
                rune = '\t';
                return start + 2;
            case (byte)'u':
                break;
            default:
                // \" \\ \/
                rune = kind;
                return start + 2;
        }

        var unit = ReadHex4(json, start + 2);
        var next = start + 6;
        if (char.IsHighSurrogate((char)unit)
            && next + 6 <= json.Length && json[next] == (byte)'\\' && json[next + 1] == (byte)'u')
        {
            var low = ReadHex4(json, next + 2);
            if (char.IsLowSurrogate((char)low))
            {
                rune = char.ConvertToUtf32((char)unit, (char)low);
                return next + 6;
            }
        }

        rune = char.IsSurrogate((char)unit) ? 0xFFFD : unit;
        return next;
    }

    private static int ReadHex4(byte[] json, int at)
    {
        var value = 0;
        for (var k = 0; k < 4; k++)
        {
            var c = (char)json[at + k];
            value = (value << 4) | (char.IsAsciiDigit(c) ? c - '0' : (char.ToLowerInvariant(c) - 'a' + 10));
        }

        return value;
    }

    private static void AppendRune(ArrayBufferWriter<byte> output, int rune)
    {
        switch (rune)
        {
            case '"':
                WriteAscii(output, "\\\"");
                return;
            case '\\':
                WriteAscii(output, "\\\\");
                return;
            case '\b':
                WriteAscii(output, "\\b");
                return;
            case '\f':
                WriteAscii(output, "\\f");
                return;
            case '\n':
                WriteAscii(output, "\\n");
                return;
            case '\r':
                WriteAscii(output, "\\r");
                return;
            case '\t':
                WriteAscii(output, "\\t");
                return;
            case Invalid:
                WriteAscii(output, "\\ufffd");
                return;
            case < 0x20 or '<' or '>' or '&' or 0x2028 or 0x2029:
                WriteAscii(output, "\\u");
                for (var shift = 12; shift >= 0; shift -= 4)
                {
                    Write(output, (byte)Hex[(rune >> shift) & 0xF]);
                }

                return;
            default:
                var span = output.GetSpan(4);
                output.Advance(new Rune(rune).EncodeToUtf8(span));
                return;
        }
    }

    private static void Write(ArrayBufferWriter<byte> output, byte b)
    {
        output.GetSpan(1)[0] = b;
        output.Advance(1);
    }

    private static void WriteAscii(ArrayBufferWriter<byte> output, string ascii)
    {
        foreach (var c in ascii)
        {
            Write(output, (byte)c);
        }
    }

    private static byte[] BuildSuspicious()
    {
        var bytes = new List<byte> { (byte)'\\', (byte)'<', (byte)'>', (byte)'&' };
        for (var b = 0x80; b <= 0xFF; b++)
        {
            bytes.Add((byte)b);
        }

        return [.. bytes];
    }
}
