/**
 * The server both emulators run: HTTP, or HTTPS with the given certificate, listening on
 * `host:port` (0: any free port). A handler that throws gets a 500 (or, once it has begun to
 * answer, a dropped connection); `close` ends open connections too and can be called repeatedly.
 */
import * as http from "node:http"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import * as net from "node:net"

export interface ServeHttpOptions {
  readonly host: string
  readonly port: number
  /** PEM; absent: plain HTTP */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined
  readonly handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>
  /** answers an exception thrown by `handle` (status 500, in the emulator's own error shape) */
  readonly internalError: (res: http.ServerResponse, text: string) => void
  /** send a `Date` header (Node's default); false: none, as behind a proxy that strips it */
  readonly sendDate?: boolean
}

export interface ServingHttp {
  readonly url: string
  readonly port: number
  /** TLS handshakes completed so far (0 over plain HTTP): what a client's connections cost the appliance */
  readonly tlsHandshakes: () => number
  readonly close: () => Promise<void>
}

export const serveHttp = async (options: ServeHttpOptions): Promise<ServingHttp> => {
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (options.sendDate === false) res.sendDate = false
    options.handle(req, res).catch((e: unknown) => {
      if (!res.headersSent && !res.destroyed) options.internalError(res, `emulator error: ${e instanceof Error ? e.message : String(e)}`)
      else res.destroy()
    })
  }
  const server: http.Server = options.tls === undefined ? http.createServer(listener) : https.createServer(options.tls, listener)
  server.on("clientError", (_error, socket) => socket.destroy())
  let handshakes = 0
  server.on("secureConnection", () => void handshakes++)

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port, options.host, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const urlHost = net.isIPv6(options.host) ? `[${options.host}]` : options.host
  let closing: Promise<void> | undefined
  return {
    url: `${options.tls === undefined ? "http" : "https"}://${urlHost}:${port}`,
    port,
    tlsHandshakes: () => handshakes,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closing
    }
  }
}
