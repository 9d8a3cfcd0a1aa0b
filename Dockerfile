# Pixel Ping container: the static native-AOT executable on an empty root file system.
#   docker build -t pixel-ping .
#   docker run -p 9187:9187 -v $PWD/config.json:/etc/pixel-ping/config.json:ro pixel-ping
# The final stage's COPY, ENV and USER lines are what tests/PixelPing.Tests/EndToEnd/ContainerTests.cs lays out in an
# empty directory and runs under chroot: keep them in the simple one-line form it reads.

# The build stage runs on the build machine's platform and cross-compiles for the target's (TARGETARCH), so that
#   docker buildx build --platform linux/amd64,linux/arm64 -t pixel-ping .
# builds both images on an x64 machine without emulating the compiler.
FROM --platform=$BUILDPLATFORM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TARGETARCH
WORKDIR /src
COPY . .
# The SDK image is Ubuntu 24.04, whose main archive serves the build machine's architecture only: for a cross build the
# target's libraries come from Ubuntu's ports archive. build.sh installs the packages it needs (.ci/debian-packages.txt)
# and publishes the target's executable, which then moves to dist/pixel-ping.
RUN native=$(dpkg --print-architecture) \
 && arch=$(if [ "$TARGETARCH" = amd64 ]; then echo x64; else echo "$TARGETARCH"; fi) \
 && if [ "$TARGETARCH" != "$native" ]; then \
      sed -i "/^Types:/a Architectures: $native" /etc/apt/sources.list.d/ubuntu.sources \
      && printf 'Types: deb\nURIs: http://ports.ubuntu.com/ubuntu-ports\nSuites: noble noble-updates noble-security\nComponents: main universe\nArchitectures: %s\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n' \
        "$TARGETARCH" > /etc/apt/sources.list.d/ports.sources; \
    fi \
 && ./build.sh clean && ./build.sh --arch "$arch" publish \
 && if [ -d "dist/linux-$arch" ]; then mv "dist/linux-$arch/pixel-ping" dist/pixel-ping; fi

FROM scratch
COPY --from=build /src/dist/pixel-ping /pixel-ping
COPY --from=build /src/deploy/container.json /etc/pixel-ping/config.json
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
# OpenSSL linked into the executable looks for trusted roots here (HTTPS endpoints).
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 10001:10001
EXPOSE 9187
# SIGTERM (docker stop) finishes requests in progress, flushes once more, and exits 0.
STOPSIGNAL SIGTERM
# The executable asks the server itself (there is no curl in an empty image): /livez on the status listener when the
# config sets "status", else a request to the pixel port that counts nothing. One line and exit 0 or 1 within 2 s.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s CMD ["/pixel-ping", "--healthcheck", "/etc/pixel-ping/config.json"]
ENTRYPOINT ["/pixel-ping"]
CMD ["/etc/pixel-ping/config.json"]
