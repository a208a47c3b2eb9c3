import XCTest
@testable import TerminalUI
@testable import Workbench

/// The model picker and the notes editor, rendered headless.
final class PickerAndNotesSnapshotTests: XCTestCase {
    let theme = Fixture.mono

    static let catalog = [
        CatalogModel(name: "roberta-base", directory: "/hub/models--FacebookAI--roberta-base/snapshots/abc", layers: 12, hiddenSize: 768,
                     size: "499 MB"),
        CatalogModel(name: "bert-base-uncased", directory: "/hub/models--bert-base-uncased/snapshots/def", layers: 12, hiddenSize: 768,
                     size: "440 MB", problem: "model_type bert: MaskScope runs RoBERTa models only"),
        CatalogModel(name: "roberta-large", directory: nil, layers: 24, hiddenSize: 1024, size: "1.42 GB",
                     pullCommand: "maskscope pull roberta-large"),
        CatalogModel(name: "distilroberta-base", directory: nil, layers: 6, hiddenSize: 768, size: "331 MB",
                     pullCommand: "maskscope pull distilroberta-base"),
    ]

    func pickerState(selection: Int) throws -> WorkbenchState {
        var state = try Fixture.state(models: [Fixture.tiny, Fixture.untied])
        state.catalog = Self.catalog
        _ = reduce(&state, .pickerToggled)
        _ = reduce(&state, .pickerStepped(selection))
        return state
    }

    func testPickerListsLoadedFoundAndPullableAt80x24() throws {
        let state = try pickerState(selection: 2)
        let lines = screen(state)
        assertSnapshot(lines, named: "picker-80x24")
        let text = lines.joined(separator: "\n")
        for expected in ["● tiny", "tiny-untied", "roberta-base", "499 MB", "roberta-large", "1.42 GB", "maskscope pull roberta-large",
                         "Enter loads roberta-base", "/hub/models--FacebookAI--roberta-base/snapshots/abc"] {
            XCTAssertTrue(text.contains(expected), "\(expected) missing:\n\(text)")
        }
        XCTAssertTrue(lines[23].contains("tiny (1/2)"), "the status line stays visible under the picker")
    }

    func testPickerOnAPullableModelShowsTheCommandInFull() throws {
        var state = try pickerState(selection: 5)
        _ = reduce(&state, .pickerChosen)
        let lines = screen(state)
        assertSnapshot(lines, named: "picker-80x24-pullable")
        XCTAssertTrue(lines.contains { $0.contains("│ maskscope pull distilroberta-base ") }, lines.joined(separator: "\n"))
        let wide = screen(state, 200, 60)
        XCTAssertTrue(wide[59].contains("distilroberta-base is not downloaded yet; get it with: maskscope pull distilroberta-base"), wide[59])
    }

    func testPickerAt200x60ShowsEveryColumn() throws {
        let lines = screen(try pickerState(selection: 1), 200, 60)
        assertSnapshot(lines, named: "picker-200x60")
        XCTAssertTrue(lines.contains { $0.contains("maskscope pull distilroberta-base") })
    }

    func testLoadingShowsInTheStatusLineAndTheTextStays() throws {
        var state = try pickerState(selection: 2)
        _ = reduce(&state, .pickerChosen)
        let lines = screen(state)
        XCTAssertTrue(lines[23].contains("loading roberta-base…"), lines[23])
        XCTAssertTrue(lines[1].contains("Paris is the <mask> of France."))
        _ = reduce(&state, .modelLoadFailed(name: "roberta-base", message: "cannot map model.safetensors"))
        let after = screen(state, 200, 60)
        XCTAssertTrue(after[59].contains("cannot load roberta-base: cannot map model.safetensors"), after[59])
        XCTAssertTrue(after[1].contains("Paris is the <mask> of France."))
        XCTAssertEqual(state.loadingModel, nil)
    }

    func testNotesEditorOverlayAt80x24() throws {
        var state = try Fixture.state(focus: .candidates)
        _ = reduce(&state, .notesOpened)
        for c in "capital wins on tiny; check roberta-large" { _ = reduce(&state, .notesEdited(.insert(String(c)))) }
        let buffer = Screen.render(state, theme: theme, width: 80, height: 24)
        assertSnapshot(buffer.lines, named: "notes-editor-80x24")
        XCTAssertNotNil(buffer.cursor, "the cursor blinks in the note")
        XCTAssertEqual(buffer.cursor?.y, buffer.lines.firstIndex { $0.contains("› capital wins") })
    }

    func testLongNoteScrollsToTheCursor() throws {
        var state = try Fixture.state()
        _ = reduce(&state, .notesOpened)
        let long = String(repeating: "abcdefghij ", count: 12) + "END"
        _ = reduce(&state, .notesEdited(.insert(long)))
        let buffer = Screen.render(state, theme: theme, width: 80, height: 24)
        XCTAssertTrue(buffer.lines.contains { $0.contains("END") }, buffer.lines.joined(separator: "\n"))
        XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= 80 })
    }

    func testKeptNoteShowsUnderTheSentence() throws {
        var state = try Fixture.state()
        state.notes = "capital wins on tiny; check roberta-large"
        let lines = screen(state)
        assertSnapshot(lines, named: "screen-80x24-note")
        XCTAssertTrue(lines[2].contains("✎ capital wins on tiny"), lines[2])
        let large = screen(state, 160, 48)
        XCTAssertTrue(large.contains { $0.contains("✎ capital wins on tiny") })
    }

    func testNoteOnALongSentenceBecomesAMarkInTheTitle() throws {
        var state = try Fixture.state(String(repeating: "word ", count: 20) + "<mask>.")
        state.notes = "long one"
        let lines = screen(state)
        XCTAssertTrue(lines[0].contains("✎ note (n)"), lines[0])
    }

    func testOverlaysRenderAtEverySizeWithoutOverflow() throws {
        var picker = try pickerState(selection: 3)
        var notes = try Fixture.state()
        _ = reduce(&notes, .notesOpened)
        _ = reduce(&notes, .notesEdited(.insert("a note")))
        picker.notes = "a kept note"
        for state in [picker, notes] {
            for (w, h) in [(60, 16), (61, 17), (79, 23), (80, 24), (100, 30), (120, 36), (200, 60)] {
                let buffer = Screen.render(state, theme: theme, width: w, height: h)
                XCTAssertEqual(buffer.lines.count, h)
                XCTAssertTrue(buffer.lines.allSatisfy { columnWidth($0) <= w }, "\(w)x\(h)")
            }
        }
    }
}
