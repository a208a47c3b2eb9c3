/// One line of the key reference: where it works, the keys, what they do.
public struct KeyBinding: Equatable, Sendable {
    public var scope: String
    public var keys: String
    public var does: String
}

/// Turns key presses into actions, depending on the focused pane; also the reference the help overlay
/// and the README show, so the two cannot drift apart.
public enum Keymap {
    /// Every key, grouped by where it works.
    public static let bindings: [KeyBinding] = [
        KeyBinding(scope: "Anywhere", keys: "Tab / Shift-Tab", does: "focus the next / previous pane"),
        KeyBinding(scope: "Anywhere", keys: "F1 (? outside the editor)", does: "show or hide this help"),
        KeyBinding(scope: "Anywhere", keys: "F2 (m)", does: "switch to the next loaded model"),
        KeyBinding(scope: "Anywhere", keys: "F3 (c)", does: "compare two models side by side"),
        KeyBinding(scope: "Anywhere", keys: "F4 (t)", does: "next colour theme"),
        KeyBinding(scope: "Anywhere", keys: "F5 (M)", does: "pick a model: loaded, cached, to pull"),
        KeyBinding(scope: "Anywhere", keys: "F6 (n)", does: "write a note (saved with the session)"),
        KeyBinding(scope: "Anywhere", keys: "F7 (p)", does: "pseudo-log-likelihood strip: score, hide"),
        KeyBinding(scope: "Anywhere", keys: "F8 (l)", does: "logit lens of the mask / the candidates"),
        KeyBinding(scope: "Anywhere", keys: "F9 (w)", does: "write this pane's figure to exports/"),
        KeyBinding(scope: "Anywhere", keys: "Ctrl-S (s)", does: "save the session (sessions/NAME.json)"),
        KeyBinding(scope: "Anywhere", keys: "Ctrl-O", does: "insert <mask> at the cursor"),
        KeyBinding(scope: "Anywhere", keys: "Ctrl-C (q)", does: "quit (your work is autosaved)"),
        KeyBinding(scope: "Anywhere", keys: "Ctrl-Z", does: "start fresh after a restore (and back)"),
        KeyBinding(scope: "Editor", keys: "typing, paste", does: "edit the sentence; inference runs live"),
        KeyBinding(scope: "Editor", keys: "Left / Right", does: "move the cursor"),
        KeyBinding(scope: "Editor", keys: "Ctrl-Left/Right, Alt-b/f", does: "jump a word"),
        KeyBinding(scope: "Editor", keys: "Home / End, Ctrl-A / Ctrl-E", does: "start / end of the line"),
        KeyBinding(scope: "Editor", keys: "Backspace / Delete", does: "delete before / under the cursor"),
        KeyBinding(scope: "Editor", keys: "Ctrl-W / Ctrl-U", does: "delete the word before / the whole line"),
        KeyBinding(scope: "Editor", keys: "Up / Down", does: "previous / next sentence in the history"),
        KeyBinding(scope: "Editor", keys: "Enter", does: "keep the sentence in the history"),
        KeyBinding(scope: "Editor", keys: "Esc", does: "leave the editor (to the candidates)"),
        KeyBinding(scope: "Panes", keys: "e, i or Esc", does: "back to the editor"),
        KeyBinding(scope: "Panes", keys: "+ / -", does: "more / fewer candidates (top-k)"),
        KeyBinding(scope: "Panes", keys: "W", does: "figure format: svg pdf png html json csv"),
        KeyBinding(scope: "Candidates", keys: "Up / Down", does: "select a candidate"),
        KeyBinding(scope: "Candidates", keys: "Left / Right", does: "select the mask"),
        KeyBinding(scope: "Candidates", keys: "Enter", does: "put the candidate in the sentence"),
        KeyBinding(scope: "Tokens", keys: "Up / Down, PgUp / PgDn", does: "select a token (shows its merges)"),
        KeyBinding(scope: "Attention", keys: "arrows", does: "move the cell cursor (query, key)"),
        KeyBinding(scope: "Attention", keys: "[ / ]", does: "previous / next layer"),
        KeyBinding(scope: "Attention", keys: ", / .", does: "previous / next head"),
        KeyBinding(scope: "Attention", keys: "a / o / h", does: "mean over heads / overview / one head"),
        KeyBinding(scope: "Attention", keys: "z / Z", does: "zoom in / out (cell width)"),
        KeyBinding(scope: "Attention", keys: "x / X", does: "knock the head out (again: back) / all back"),
        KeyBinding(scope: "Attention", keys: "v", does: "show weights → norms → rollout"),
        KeyBinding(scope: "Attention", keys: "S", does: "overview by a head statistic (cycles; then maps)"),
        KeyBinding(scope: "Attention", keys: "g", does: "head importance grid (again: close it)"),
        KeyBinding(scope: "Overview", keys: "arrows, Enter", does: "pick a layer and head, open it"),
        KeyBinding(scope: "Models", keys: "Up / Down, Enter", does: "select; switch to, load or how to pull"),
        KeyBinding(scope: "Models", keys: "Esc (F5, M)", does: "close the model list"),
        KeyBinding(scope: "Note", keys: "typing, Enter", does: "edit the note, keep it"),
        KeyBinding(scope: "Note", keys: "Esc", does: "cancel (the note stays as it was)"),
        KeyBinding(scope: "Help", keys: "Up / Down, Esc", does: "scroll, close"),
    ]

    /// The action a key stands for in `state`, or nil when it does nothing there.
    public static func action(for key: Key, in state: WorkbenchState) -> Action? {
        if state.notesEditor != nil { return notesAction(for: key) }
        if state.pickerSelection != nil { return pickerAction(for: key) }
        if state.showHelp {
            switch key {
            case .up: return .helpScrolled(-1)
            case .down: return .helpScrolled(1)
            case .pageUp: return .helpScrolled(-10)
            case .pageDown: return .helpScrolled(10)
            case .ctrl("c"): return .quitRequested
            default: return .helpToggled
            }
        }
        switch key {
        case .tab: return .focusCycled(1)
        case .backTab: return .focusCycled(-1)
        case .function(1): return .helpToggled
        case .function(2): return .modelSwitchRequested
        case .function(3): return .compareToggled
        case .function(4): return .themeCycled
        case .function(5): return .pickerToggled
        case .function(6): return .notesOpened
        case .function(7): return .likelihoodToggled
        case .function(8): return .lensToggled
        case .function(9): return .figureExportRequested
        case .ctrl("s"): return .sessionSaveRequested
        case .ctrl("o"): return .maskInserted
        case .ctrl("c"): return .quitRequested
        case .ctrl("z"): return .restoreToggled
        default: break
        }
        if state.focus == .editor { return editorAction(for: key) }
        switch key {
        case .char("q"): return .quitRequested
        case .char("?"): return .helpToggled
        case .char("m"): return .modelSwitchRequested
        case .char("M"): return .pickerToggled
        case .char("n"): return .notesOpened
        case .char("c"): return .compareToggled
        case .char("p"): return .likelihoodToggled
        case .char("l"): return .lensToggled
        case .char("w"): return .figureExportRequested
        case .char("W"): return .exportFormatCycled
        case .char("t"): return .themeCycled
        case .char("s"): return .sessionSaveRequested
        case .char("e"), .char("i"), .escape: return .focusSet(.editor)
        case .char("+"), .char("="): return .topKChanged(1)
        case .char("-"), .char("_"): return .topKChanged(-1)
        default: break
        }
        switch state.focus {
        case .editor: return nil
        case .candidates:
            switch key {
            case .up: return .candidateStepped(-1)
            case .down: return .candidateStepped(1)
            case .left: return .maskStepped(-1)
            case .right: return .maskStepped(1)
            case .enter: return .candidateAccepted
            default: return nil
            }
        case .tokens:
            switch key {
            case .up: return .tokenStepped(-1)
            case .down: return .tokenStepped(1)
            case .pageUp: return .tokenStepped(-10)
            case .pageDown: return .tokenStepped(10)
            case .home: return .tokenStepped(-1_000_000)
            case .end: return .tokenStepped(1_000_000)
            default: return nil
            }
        case .attention:
            return attentionAction(for: key, overview: state.attentionMode == .overview)
        }
    }

    /// Keys while the notes editor is open: they edit the note; Enter keeps it, Esc cancels.
    static func notesAction(for key: Key) -> Action? {
        switch key {
        case .enter: return .notesConfirmed
        case .escape: return .notesCancelled
        case .ctrl("c"): return .quitRequested
        case .char(let c): return .notesEdited(.insert(String(c)))
        case .backspace, .ctrl("h"): return .notesEdited(.deleteBackward)
        case .delete, .ctrl("d"): return .notesEdited(.deleteForward)
        case .ctrl("w"): return .notesEdited(.deleteWordBackward)
        case .ctrl("u"): return .notesEdited(.clear)
        case .left, .ctrl("b"): return .notesEdited(.move(.left))
        case .right, .ctrl("f"): return .notesEdited(.move(.right))
        case .home, .ctrl("a"): return .notesEdited(.move(.home))
        case .end, .ctrl("e"): return .notesEdited(.move(.end))
        case .ctrlLeft, .alt("b"): return .notesEdited(.move(.wordLeft))
        case .ctrlRight, .alt("f"): return .notesEdited(.move(.wordRight))
        default: return nil
        }
    }

    /// Keys while the model picker is open.
    static func pickerAction(for key: Key) -> Action? {
        switch key {
        case .up, .char("k"): return .pickerStepped(-1)
        case .down, .char("j"): return .pickerStepped(1)
        case .pageUp: return .pickerStepped(-10)
        case .pageDown: return .pickerStepped(10)
        case .home: return .pickerStepped(-1_000_000)
        case .end: return .pickerStepped(1_000_000)
        case .enter: return .pickerChosen
        case .escape, .function(5), .char("M"), .char("q"): return .pickerToggled
        case .ctrl("c"): return .quitRequested
        default: return nil
        }
    }

    static func editorAction(for key: Key) -> Action? {
        switch key {
        case .char(let c): return .textInserted(String(c))
        case .backspace, .ctrl("h"): return .deletedBackward
        case .delete, .ctrl("d"): return .deletedForward
        case .ctrl("w"): return .wordDeletedBackward
        case .ctrl("u"): return .lineCleared
        case .left, .ctrl("b"): return .cursorMoved(.left)
        case .right, .ctrl("f"): return .cursorMoved(.right)
        case .home, .ctrl("a"): return .cursorMoved(.home)
        case .end, .ctrl("e"): return .cursorMoved(.end)
        case .ctrlLeft, .alt("b"): return .cursorMoved(.wordLeft)
        case .ctrlRight, .alt("f"): return .cursorMoved(.wordRight)
        case .up, .ctrl("p"): return .historyStepped(-1)
        case .down, .ctrl("n"): return .historyStepped(1)
        case .enter: return .textSubmitted
        case .escape: return .focusSet(.candidates)
        default: return nil
        }
    }

    static func attentionAction(for key: Key, overview: Bool) -> Action? {
        switch key {
        case .char("["): return .layerStepped(-1)
        case .char("]"): return .layerStepped(1)
        case .char(","), .char("<"): return .headStepped(-1)
        case .char("."), .char(">"): return .headStepped(1)
        case .char("a"): return .attentionModeSet(.mean)
        case .char("o"): return .attentionModeSet(.overview)
        case .char("h"): return .attentionModeSet(.head)
        case .char("z"): return .zoomStepped(1)
        case .char("Z"): return .zoomStepped(-1)
        case .char("x"): return .headKnockoutToggled
        case .char("X"): return .knockoutCleared
        case .char("v"): return .attentionValuesCycled
        case .char("g"): return .importanceToggled
        case .char("S"): return .headStatisticCycled
        default: break
        }
        if overview {
            switch key {
            case .up: return .layerStepped(-1)
            case .down: return .layerStepped(1)
            case .left: return .headStepped(-1)
            case .right: return .headStepped(1)
            case .enter: return .attentionHeadOpened
            default: return nil
            }
        }
        switch key {
        case .up: return .attentionCursorMoved(query: -1, key: 0)
        case .down: return .attentionCursorMoved(query: 1, key: 0)
        case .left: return .attentionCursorMoved(query: 0, key: -1)
        case .right: return .attentionCursorMoved(query: 0, key: 1)
        case .pageUp: return .attentionCursorMoved(query: -10, key: 0)
        case .pageDown: return .attentionCursorMoved(query: 10, key: 0)
        default: return nil
        }
    }
}
