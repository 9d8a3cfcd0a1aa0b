using System.Net;
using System.Net.Sockets;

namespace PixelPing.Tests.Support;

/// <summary>
/// A port number for a config that must name one before anything listens on it: an outside program's own config
/// (nginx, Prometheus's web port, PostgreSQL, Redis), a socket a service manager binds for the server, a port the
/// test keeps closed, or <c>--healthcheck</c>, which reads the port from the server's config. Between this call and
/// the bind another test may take the port, so where the server is ours it gets port 0 and the test reads the port
/// it prints instead.
/// </summary>
public static class Ports
{
    /// <summary>A port the kernel just gave out as free on loopback (and took back).</summary>
    public static int Free()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
