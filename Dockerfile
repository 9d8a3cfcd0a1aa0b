# Pixel Ping container: the static native-AOT executable on an empty root file system.
#   docker build -t pixel-ping .
#   docker run -p 9187:9187 -v $PWD/config.json:/etc/pixel-ping/config.json:ro pixel-ping
# The final stage's COPY, ENV and USER lines are what tests/PixelPing.Tests/EndToEnd/ContainerTests.cs lays out in an
# empty directory and runs under chroot: keep them in the simple one-line form it reads.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev zlib1g-dev libssl-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN ./build.sh clean && ./build.sh publish

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
