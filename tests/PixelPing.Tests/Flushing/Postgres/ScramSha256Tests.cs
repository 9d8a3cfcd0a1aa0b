using System.Text;
using PixelPing.Flushing.Postgres;

namespace PixelPing.Tests.Flushing.Postgres;

public sealed class ScramSha256Tests
{
    // RFC 7677 §3: user "user", password "pencil".
    private const string ClientNonce = "rOprNGfwEbeRWgbNEkqO";
    private const string ServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    private const string ClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    private const string ServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    [Fact]
    public void The_exchange_of_RFC_7677_gives_its_messages_and_accepts_its_server_signature()
    {
        var scram = new ScramSha256("user", "pencil", bindingData: null, couldBind: false, ClientNonce);

        Assert.Equal("SCRAM-SHA-256", scram.Mechanism);
        Assert.Equal("n,,n=user,r=" + ClientNonce, Encoding.ASCII.GetString(scram.ClientFirst()));
        Assert.True(scram.TryClientFinal(Encoding.ASCII.GetBytes(ServerFirst), out byte[] final, out string error), error);
        Assert.Equal(ClientFinal, Encoding.ASCII.GetString(final));
        Assert.True(scram.VerifyServerFinal(Encoding.ASCII.GetBytes(ServerFinal), out error), error);
    }

    [Theory]
    [InlineData("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")]
    [InlineData("v=")]
    [InlineData("v=not base64!")]
    [InlineData("")]
    public void A_wrong_server_signature_is_refused(string serverFinal)
    {
        var scram = new ScramSha256("user", "pencil", null, false, ClientNonce);
        Assert.True(scram.TryClientFinal(Encoding.ASCII.GetBytes(ServerFirst), out _, out _));

        Assert.False(scram.VerifyServerFinal(Encoding.ASCII.GetBytes(serverFinal), out string error));
        Assert.StartsWith("the server's SCRAM signature is wrong", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_server_error_is_said()
    {
        var scram = new ScramSha256("user", "pencil", null, false, ClientNonce);
        Assert.True(scram.TryClientFinal(Encoding.ASCII.GetBytes(ServerFirst), out _, out _));

        Assert.False(scram.VerifyServerFinal("e=invalid-proof"u8, out string error));
        Assert.Equal("the server ended SCRAM with the error invalid-proof", error);
    }

    [Theory]
    [InlineData("r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "the server's SCRAM nonce does not extend the client's")]
    [InlineData("r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "the server's SCRAM nonce does not extend the client's")]
    [InlineData("r=rOprNGfwEbeRWgbNEkqOx,s=@@@,i=4096", "the server's SCRAM salt is not base64")]
    [InlineData("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0", "the server's SCRAM iteration count is not a number from 1 to 10000000")]
    [InlineData("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999", "the server's SCRAM iteration count is not a number from 1 to 10000000")]
    [InlineData("r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==", "the server's first SCRAM message lacks its nonce, salt or iteration count")]
    [InlineData("m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "the server's SCRAM message asks for an extension (m=) that no SCRAM client knows")]
    public void A_bad_server_first_message_is_refused(string serverFirst, string reason)
    {
        var scram = new ScramSha256("user", "pencil", null, false, ClientNonce);

        Assert.False(scram.TryClientFinal(Encoding.ASCII.GetBytes(serverFirst), out _, out string error));
        Assert.Equal(reason, error);
    }

    [Fact]
    public void Channel_binding_goes_into_the_header_and_the_c_attribute()
    {
        byte[] binding = [1, 2, 3, 4];
        var plus = new ScramSha256("", "pencil", binding, couldBind: false, ClientNonce);
        var could = new ScramSha256("", "pencil", null, couldBind: true, ClientNonce);

        Assert.Equal("SCRAM-SHA-256-PLUS", plus.Mechanism);
        Assert.Equal("p=tls-server-end-point,,n=,r=" + ClientNonce, Encoding.ASCII.GetString(plus.ClientFirst()));
        Assert.True(plus.TryClientFinal(Encoding.ASCII.GetBytes(ServerFirst), out byte[] final, out _));
        string expected = Convert.ToBase64String([.. "p=tls-server-end-point,,"u8, .. binding]);
        Assert.StartsWith("c=" + expected + ",r=", Encoding.ASCII.GetString(final), StringComparison.Ordinal);

        Assert.Equal("y,,n=,r=" + ClientNonce, Encoding.ASCII.GetString(could.ClientFirst()));
        Assert.True(could.TryClientFinal(Encoding.ASCII.GetBytes(ServerFirst), out final, out _));
        Assert.StartsWith("c=eSws,r=", Encoding.ASCII.GetString(final), StringComparison.Ordinal);
    }
}
