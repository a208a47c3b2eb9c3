import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `maskscope serve`: the fill-mask endpoint over HTTP/1.1 on Hummingbird (SwiftNIO). One access-log line per
/// request through swift-log; SIGTERM or SIGINT stops taking connections, lets the requests in flight finish, and
/// returns.
public enum MaskScopeServer {
    /// Serves `models` until SIGTERM/SIGINT. `onListening` gets the bound port (the one asked for, or the one the
    /// system chose for port 0) once the server takes connections.
    public static func run(models: [ServedModel], settings: ServerSettings, logger: Logger,
                           onListening: @escaping @Sendable (Int) -> Void) async throws {
        let service = FillMaskService(models: models, settings: settings, logger: logger)
        service.start()
        let responder = ServeResponder(service: service, logger: logger)
        let listening = LockedFlag()
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in
                listening.set()
                onListening(channel.localAddress?.port ?? settings.port)
            },
            logger: logger)
        // DrainWatch after the application in one group: a group shuts its services down last to first, so /ready
        // says 503 before the listener closes and while the requests in flight finish (inside the application's own
        // group it would be told last, after every request had finished).
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: app),
                       .init(service: DrainWatch(service: service, listening: listening, logger: logger),
                             successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as IOError {
            throw ServerStartError(host: settings.host, port: settings.port, errno: error.errnoCode)
        }
    }
}

/// The listening socket could not be opened, in words.
public struct ServerStartError: Error, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let errno: Int32

    public var description: String {
        switch errno {
        case EADDRINUSE: "port \(port) on \(host) is already taken by another program; choose another --port (0 picks a free one)"
        case EADDRNOTAVAIL: "\(host) is not an address of this machine; give --host one of its addresses (127.0.0.1 for this machine only, 0.0.0.0 for all)"
        case EACCES: "no permission to listen on port \(port) (ports below 1024 need root); choose a port of 1024 or more"
        default: "cannot listen on \(host):\(port) (\(String(cString: strerror(errno))))"
        }
    }
}

/// Marks the service as draining when a graceful shutdown begins (so /ready says 503 while in-flight requests finish).
private struct DrainWatch: Service {
    let service: FillMaskService
    let listening: LockedFlag
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        service.beginDraining()
        if listening.isSet { logger.info("shutting down: finishing the requests in flight") }
    }
}

/// Hummingbird's side: turns a request into an `Exchange` (the body read up to the limit), the service's `Reply`
/// into a response, and writes the access log and the request metrics.
struct ServeResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let service: FillMaskService
    let logger: Logger

    func respond(to request: Request, context: Context) async throws -> Response {
        let arrived = DispatchTime.now()
        var exchange = Exchange(method: request.method.rawValue, path: request.uri.path)
        for (key, value) in request.uri.queryParameters { exchange.query[String(key)] = String(value) }
        for field in request.headers { exchange.headers[field.name.canonicalName] = field.value }
        let route: String, reply: Reply, seconds: Double
        let limit = service.settings.maxBodyBytes
        var tooLarge = false
        if let length = exchange.headers["content-length"].flatMap(Int.init), length > limit {
            tooLarge = true
        } else {
            do {
                let body = try await request.body.collect(upTo: limit)
                exchange.body = Array(body.readableBytesView)
            } catch is NIOTooManyBytesError {
                tooLarge = true
            }
        }
        if tooLarge {
            // Refused before the body is read (or once it passes the limit): never buffered whole.
            (route, reply) = (Route.match(exchange.path)?.0.rawValue ?? "other", .error(FillMaskService.bodyTooLarge(limit)))
            seconds = service.record(route: route, reply: reply, arrived: arrived)
        } else {
            (route, reply, seconds) = await service.handle(exchange, arrived: arrived)
        }
        logger.info("\(exchange.method) \(request.uri.description) \(reply.status) \(String(format: "%.1f", seconds * 1000)) ms \(reply.body.count) B")
        var headers = HTTPFields()
        for (name, value) in reply.headers {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        if headers[.contentLength] == nil { headers[.contentLength] = String(reply.body.count) }
        return Response(status: .init(code: reply.status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: reply.body)))
    }
}
