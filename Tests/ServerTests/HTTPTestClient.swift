import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP answer as read off the socket.
struct HTTPAnswer {
    var status: Int
    /// Header names in lower case.
    var headers: [String: String]
    var body: Data
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: Any? { try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
    /// The message of an `{"error": ...}` body.
    var error: String? { (json as? [String: Any])?["error"] as? String }
}

enum HTTPTestError: Error { case connect(Int32), closedEarly(String), timeout }

/// A minimal HTTP/1.1 client on a raw socket, so that tests can also send what no real client would (garbage,
/// half a request, an endless body). One connection per request, `Connection: close`.
enum HTTPTestClient {
    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let problem = errno
            close(fd)
            throw HTTPTestError.connect(problem)
        }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads to the end of the connection.
    static func readAll(_ fd: Int32) -> [UInt8] {
        var all: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            all += chunk[..<n]
        }
        return all
    }

    /// Sends `raw` and parses what comes back.
    static func exchange(port: Int, raw: [UInt8]) throws -> HTTPAnswer {
        let fd = try connect(port: port)
        defer { close(fd) }
        send(fd, raw)
        return try parse(readAll(fd))
    }

    static func request(port: Int, method: String, path: String, body: Data? = nil, headers: [(String, String)] = []) throws -> HTTPAnswer {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        return try exchange(port: port, raw: Array(head.utf8) + Array(body ?? Data()))
    }

    static func post(port: Int, path: String, json: String, headers: [(String, String)] = []) throws -> HTTPAnswer {
        try request(port: port, method: "POST", path: path, body: Data(json.utf8), headers: headers)
    }

    static func parse(_ bytes: [UInt8]) throws -> HTTPAnswer {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0...max(0, bytes.count - 4)).first(where: { bytes.count >= 4 && Array(bytes[$0..<($0 + 4)]) == separator }) else {
            throw HTTPTestError.closedEarly(String(decoding: bytes, as: UTF8.self))
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw HTTPTestError.closedEarly(head[0]) }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[(end + 4)...])
        if let length = headers["content-length"].flatMap(Int.init), body.count > length { body = Array(body.prefix(length)) }
        return HTTPAnswer(status: status, headers: headers, body: Data(body))
    }
}
