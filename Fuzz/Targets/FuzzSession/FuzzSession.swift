// libFuzzer target: a session file (sessions/NAME.json) read as `--session` reads it, and the same bytes as the
// autosave (a session with three more keys) read at start. Whatever reads must survive a save and a load unchanged.
import Foundation
import FuzzSupport
import Workbench

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSession(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = Fuzz.scratchFile(UnsafeRawBufferPointer(start: data, count: size), name: "session.json")
    do {
        let session = try Session.load(from: path)
        Fuzz.accepted("a session: \(session)")
        do {
            let again = try JSONDecoder().decode(Session.self, from: try session.encoded())
            Fuzz.require(again == session, "the session changed on a save and load: \(session) -> \(again)")
        } catch {
            Fuzz.require(false, "a session that loaded cannot be saved and loaded again: \(error)")
        }
    } catch {
        Fuzz.describe(error)
    }
    do {
        guard let autosave = try Autosave.load(from: path) else { return 0 }
        Fuzz.accepted("an autosave: ended by \(autosave.endedBy ?? "nothing"), saved at \(autosave.savedAt)")
        do {
            let bytes = try autosave.encoded()
            // The crash handler overwrites the last two bytes, trusting them to be "}\n".
            Fuzz.require(bytes.suffix(2) == Data("}\n".utf8), "an autosave that does not end in }\\n")
            let again = try Autosave.decode(bytes)
            // (savedAt is only compared as written: a file without autosavedAt reads as now, with fractions of a second)
            Fuzz.require(again.session == autosave.session && again.sessionPath == autosave.sessionPath
                         && again.endedBy == autosave.endedBy, "the autosave changed on a save and load: \(autosave) -> \(again)")
            _ = Autosave.formatTime(autosave.savedAt, now: Date(timeIntervalSince1970: 0), timeZone: TimeZone(secondsFromGMT: 0) ?? .current)
        } catch {
            Fuzz.require(false, "an autosave that loaded cannot be saved and loaded again: \(error)")
        }
    } catch {
        Fuzz.describe(error)
    }
    return 0
}
