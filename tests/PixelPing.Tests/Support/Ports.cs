using System.Net;
using System.Net.Sockets;

namespace PixelPing.Tests.Support;

/// <summary>Ports for configs that must name one in advance (a client such as nginx or --healthcheck reads it).</summary>
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
