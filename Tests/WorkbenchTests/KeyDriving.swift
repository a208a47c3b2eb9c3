import XCTest
@testable import Workbench

/// Drives the keymap and the reducer as the app does, for reducer tests.
protocol KeyDriving {}

extension KeyDriving {
    /// Presses keys as the app does and returns every effect produced.
    @discardableResult
    func press(_ keys: [Key], _ state: inout WorkbenchState) -> [Effect] {
        var effects: [Effect] = []
        for key in keys {
            if let action = Keymap.action(for: key, in: state) { effects += reduce(&state, action) }
        }
        return effects
    }

    /// The keys that type `text`.
    func type(_ text: String) -> [Key] { text.map { Key.char($0) } }

    /// The inference requests among effects.
    func requests(_ effects: [Effect]) -> [InferenceRequest] {
        effects.compactMap { if case .runInference(let r) = $0 { return r } else { return nil } }
    }
}
