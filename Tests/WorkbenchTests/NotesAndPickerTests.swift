import XCTest
@testable import Workbench

/// The notes editor (n / F6) and the model picker (F5 / M), driven through the keymap and the reducer.
final class NotesAndPickerTests: XCTestCase, KeyDriving {
    let tiny = ModelInfo(name: "tiny", path: "tiny", layers: 2, heads: 4, maxTokens: 512, directory: "/m/tiny")
    let other = ModelInfo(name: "other", path: "other", layers: 3, heads: 4, maxTokens: 512, directory: "/m/other")
    let catalog = [
        CatalogModel(name: "roberta-base", directory: "/hub/roberta-base/snap", layers: 12, hiddenSize: 768, size: "499 MB"),
        CatalogModel(name: "tiny", directory: "/m/tiny", layers: 2, hiddenSize: 32, size: "300 KB"),
        CatalogModel(name: "bert-base-uncased", directory: "/hub/bert/snap", layers: 12, hiddenSize: 768, size: "1 B",
                     problem: "model_type bert: MaskScope runs RoBERTa models only"),
        CatalogModel(name: "roberta-large", directory: nil, layers: 24, hiddenSize: 1024, size: "1.42 GB",
                     pullCommand: "maskscope pull roberta-large"),
    ]


    func pickerState() -> WorkbenchState {
        var state = WorkbenchState(models: [tiny, other], text: "Paris is the <mask> of France.")
        state.catalog = catalog
        state.focus = .candidates
        return state
    }

    // MARK: notes

    func testNKeyOpensTheNotesEditorAndEnterKeepsTheNote() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        state.focus = .candidates
        press([.char("n")], &state)
        XCTAssertNotNil(state.notesEditor)
        // Letters that are commands elsewhere (q quits, m switches, s saves) type into the note.
        let effects = press(type("qms: capital beats city") + [.enter], &state)
        XCTAssertTrue(effects.isEmpty, "editing a note starts no inference and saves nothing: \(effects)")
        XCTAssertNil(state.notesEditor)
        XCTAssertEqual(state.notes, "qms: capital beats city")
        XCTAssertEqual(state.text, "a <mask>")
        XCTAssertFalse(state.quitRequested)
        XCTAssertEqual(state.session.notes, "qms: capital beats city")
        XCTAssertTrue(state.notice?.text.contains("Ctrl-S") ?? false)
        // Saving afterwards writes the note with the session.
        let save = press([.char("s")], &state)
        guard case .saveSession(let session, _)? = save.first else { return XCTFail("no save: \(save)") }
        XCTAssertEqual(session.notes, "qms: capital beats city")
    }

    func testEscCancelsAndKeepsTheOldNote() {
        var state = WorkbenchState(models: [tiny], text: "a <mask>")
        state.notes = "first"
        press([.function(6)], &state)  // F6 works from the editor too
        XCTAssertEqual(state.notesEditor?.text, "first", "the editor opens on the current note")
        press(type(" and more") + [.escape], &state)
        XCTAssertNil(state.notesEditor)
        XCTAssertEqual(state.notes, "first")
        XCTAssertEqual(state.text, "a <mask>", "typing in the note never reaches the sentence")
        XCTAssertEqual(state.focus, .editor)
    }

    func testNotesEditingKeysAndClearing() {
        var state = WorkbenchState(models: [tiny])
        state.notes = "old note"
        press([.function(6), .ctrl("u")] + type("  b") + [.home] + type("a") + [.end, .backspace] + type("c  ") + [.enter], &state)
        XCTAssertEqual(state.notes, "a  c", "edited with the line editor's keys, trimmed")
        press([.function(6), .ctrl("u"), .enter], &state)
        XCTAssertEqual(state.notes, "")
        XCTAssertEqual(state.notice?.text, "note removed")
    }

    func testTypingNInTheEditorStillTypes() {
        var state = WorkbenchState(models: [tiny])
        press(type("n"), &state)
        XCTAssertNil(state.notesEditor)
        XCTAssertEqual(state.text, "n")
    }

    // MARK: model picker

    func testPickerListsLoadedThenFoundThenPullable() {
        let state = pickerState()
        XCTAssertEqual(state.pickerRows, [.loaded(0), .loaded(1), .found(0), .found(2), .pullable(3)],
                       "tiny is loaded, so its catalogue entry is not listed twice")
    }

    func testCapitalMOpensThePickerOnTheActiveModelAndEscClosesIt() {
        var state = pickerState()
        state.activeModel = 1
        press([.char("M")], &state)
        XCTAssertEqual(state.pickerSelection, 1)
        press([.down, .down, .down, .down, .down], &state)
        XCTAssertEqual(state.pickerSelection, 4, "clamped to the last line")
        press([.escape], &state)
        XCTAssertNil(state.pickerSelection)
        XCTAssertEqual(state.activeModel, 1)
        // m stays the quick cycle.
        press([.char("m")], &state)
        XCTAssertEqual(state.activeModel, 0)
    }

    func testF5OpensThePickerFromTheEditorWithoutTyping() {
        var state = pickerState()
        state.focus = .editor
        press([.function(5)], &state)
        XCTAssertNotNil(state.pickerSelection)
        press(type("q"), &state)
        XCTAssertNil(state.pickerSelection, "q closes the picker")
        XCTAssertFalse(state.quitRequested)
        XCTAssertEqual(state.text, "Paris is the <mask> of France.")
    }

    func testChoosingALoadedModelSwitchesToIt() {
        var state = pickerState()
        let effects = press([.char("M"), .down, .enter], &state)
        XCTAssertEqual(state.activeModel, 1)
        XCTAssertNil(state.pickerSelection)
        XCTAssertEqual(requests(effects).map(\.model), [1])
    }

    func testChoosingAFoundModelLoadsItInTheBackgroundWithoutLosingTheText() {
        var state = pickerState()
        let effects = press([.char("M"), .down, .down, .enter], &state)
        XCTAssertEqual(effects, [.loadModel(ModelLoadRequest(name: "roberta-base", directory: "/hub/roberta-base/snap"))])
        XCTAssertEqual(state.loadingModel, "roberta-base")
        XCTAssertNil(state.pickerSelection)
        XCTAssertEqual(state.notice?.text, "loading roberta-base…")
        XCTAssertEqual(state.activeModel, 0, "the old model stays active until the new one is there")

        // Typing goes on meanwhile, with inference on the loaded models.
        press([.char("e")] + type("!"), &state)
        XCTAssertEqual(state.text, "Paris is the <mask> of France.!")

        // A second load is refused while one is under way.
        XCTAssertEqual(state.focus, .editor)
        let again = press([.function(5), .down, .down, .enter], &state)
        XCTAssertTrue(again.isEmpty)
        XCTAssertTrue(state.notice?.isError ?? false)
        XCTAssertTrue(state.notice?.text.contains("still loading roberta-base") ?? false)
        press([.escape], &state)

        let info = ModelInfo(name: "roberta-base", path: "roberta-base", layers: 12, heads: 12, maxTokens: 514, directory: "/hub/roberta-base/snap")
        let loaded = reduce(&state, .modelLoaded(info, index: 2))
        XCTAssertNil(state.loadingModel)
        XCTAssertEqual(state.models.count, 3)
        XCTAssertEqual(state.activeModel, 2)
        XCTAssertEqual(requests(loaded).map(\.model), [2])
        XCTAssertEqual(requests(loaded).first?.text, "Paris is the <mask> of France.!")
        XCTAssertTrue(state.notice?.text.contains("loaded roberta-base") ?? false)
        XCTAssertEqual(state.pickerRows, [.loaded(0), .loaded(1), .loaded(2), .found(2), .pullable(3)],
                       "the loaded model moves up to the loaded ones")
        XCTAssertEqual(state.session.models, ["tiny", "other", "roberta-base"], "sessions keep it by name")
    }

    func testAFailedLoadIsAnErrorInTheStatusLineAndNothingElseChanges() {
        var state = pickerState()
        press([.char("M"), .down, .down, .enter], &state)
        let before = state.text
        _ = reduce(&state, .modelLoadFailed(name: "roberta-base", message: "model.safetensors: truncated"))
        XCTAssertNil(state.loadingModel)
        XCTAssertEqual(state.notice, Notice("cannot load roberta-base: model.safetensors: truncated", isError: true))
        XCTAssertEqual(state.models.count, 2)
        XCTAssertEqual(state.activeModel, 0)
        XCTAssertEqual(state.text, before)
    }

    func testAnUnloadableModelSaysWhy() {
        var state = pickerState()
        let effects = press([.char("M"), .down, .down, .down, .enter], &state)
        XCTAssertTrue(effects.isEmpty)
        XCTAssertEqual(state.notice?.isError, true)
        XCTAssertTrue(state.notice?.text.contains("runs RoBERTa models only") ?? false)
        XCTAssertNotNil(state.pickerSelection, "the picker stays open to pick another")
    }

    func testAPullableModelCannotBeSelectedButShowsItsPullCommand() {
        var state = pickerState()
        let effects = press([.char("M"), .end, .enter], &state)
        XCTAssertTrue(effects.isEmpty)
        XCTAssertEqual(state.notice, Notice("roberta-large is not downloaded yet; get it with: maskscope pull roberta-large"))
        XCTAssertEqual(state.models.count, 2)
        XCTAssertNil(state.loadingModel)
    }

    func testOnlyOneModelPointsAtThePicker() {
        var state = WorkbenchState(models: [tiny])
        state.focus = .candidates
        press([.char("m")], &state)
        XCTAssertTrue(state.notice?.text.contains("F5") ?? false)
    }

    func testLoadResultOutOfStepIsRefused() {
        var state = pickerState()
        _ = reduce(&state, .modelLoaded(tiny, index: 5))
        XCTAssertEqual(state.models.count, 2)
        XCTAssertEqual(state.notice?.isError, true)
    }
}
