import XCTest
@testable import TerminalUI

/// Which theme the workbench opens with: NO_COLOR, then --theme, then the session's, then dark.
final class ThemeChoiceTests: XCTestCase {
    let available = ["cividis", "dark", "light", "mono"]

    func testThemeFlagWinsOverTheSessionAndTheDefault() throws {
        XCTAssertEqual(try Theme.choose(requested: "cividis", saved: "light", available: available, noColor: false), "cividis")
        XCTAssertEqual(try Theme.choose(requested: nil, saved: "light", available: available, noColor: false), "light")
        XCTAssertEqual(try Theme.choose(requested: nil, saved: nil, available: available, noColor: false), "dark")
        XCTAssertEqual(try Theme.choose(requested: nil, saved: nil, available: ["light", "mono"], noColor: false), "light")
    }

    func testUnknownThemeFlagIsAnErrorButAnUnknownSavedThemeIsPassedOver() {
        XCTAssertThrowsError(try Theme.choose(requested: "neon", saved: nil, available: available, noColor: false)) { error in
            XCTAssertEqual(error as? ThemeError, .unknown(name: "neon", available: available))
        }
        XCTAssertEqual(try Theme.choose(requested: nil, saved: "neon", available: available, noColor: false), "dark")
    }

    func testNoColorAlwaysOpensMono() throws {
        XCTAssertEqual(try Theme.choose(requested: "light", saved: "dark", available: ["mono"], noColor: true), "mono")
        XCTAssertEqual(try Theme.choose(requested: "neon", saved: nil, available: ["mono"], noColor: true), "mono",
                       "under NO_COLOR --theme is not even checked")
        XCTAssertEqual(Theme.available(noColor: true, executable: URL(fileURLWithPath: "/nonexistent/maskscope")).themes.map(\.name), ["mono"])
    }
}
