namespace PixelPing.Flushing.Postgres;

/// <summary>
/// An ErrorResponse (or NoticeResponse) from the server: its SQLSTATE, message and detail (PostgreSQL protocol 3.0
/// §55.8, the fields C, M and D; V is the severity in English).
/// </summary>
internal sealed record PgError(string Severity, string Code, string Message, string? Detail)
{
    /// <summary>The body of an ErrorResponse or NoticeResponse: one-letter field codes, each with a string, then a NUL.</summary>
    public static PgError Parse(ReadOnlySpan<byte> body)
    {
        var fields = new PgFields(body);
        string severity = "ERROR";
        string code = "XX000";
        string message = "";
        string? detail = null;
        while (!fields.IsEmpty)
        {
            byte field = fields.Byte();
            if (field == 0)
            {
                break;
            }

            string value = fields.CString();
            switch (field)
            {
                case (byte)'V': severity = value; break;
                case (byte)'C': code = value; break;
                case (byte)'M': message = value; break;
                case (byte)'D': detail = value; break;
            }
        }

        return new PgError(severity, code, message, detail);
    }

    /// <summary>
    /// One log line: <c>message (SQLSTATE 42501)</c>, then <c>: detail</c> when there is one. The server's words are
    /// escaped, since a detail may quote a key (any bytes) or a name from the config.
    /// </summary>
    public string Line => LogEscape.Text(Message + " (SQLSTATE " + Code + ")" + (Detail is { Length: > 0 } ? ": " + Detail : ""));

    /// <summary>
    /// An error that may be gone at the next try: a lost connection (class 08), a rolled-back transaction (40), a
    /// server short of resources (53), an operator's intervention such as a shutdown or a cancel (57), a system error
    /// (58), an internal error (XX). Anything else (a missing table, a right not granted, a wrong password) stays
    /// until someone changes the database or the config.
    /// </summary>
    public bool IsTransient => Code.Length == 5 && Code[..2] is "08" or "40" or "53" or "57" or "58" or "XX";

    /// <summary>FATAL and PANIC end the session: the server closes the connection after sending it.</summary>
    public bool EndsSession => Severity is "FATAL" or "PANIC";
}
