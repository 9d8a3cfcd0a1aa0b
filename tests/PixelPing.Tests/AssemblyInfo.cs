// The tests drive Linux processes, signals, /proc and chroot: they run on Linux only, like the product.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
