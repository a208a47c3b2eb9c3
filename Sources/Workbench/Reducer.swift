import Figures
import RoBERTa

/// The workbench's only state transition: applies `action` to `state` and says what work to start.
///
/// Pure: no terminal, no clock, no model. Inference comes back later as `.inferenceFinished`, and a result
/// whose id is not the newest request for its model is dropped, so an older text is never shown as current.
public func reduce(_ state: inout WorkbenchState, _ action: Action) -> [Effect] {
    guard let swap = state.restoreSwap, action != .restoreToggled else {
        let effects = apply(&state, action)
        return effects + followUps(&state)
    }
    // Once the work on screen changes, Ctrl-Z no longer swaps it (that would throw the change away).
    let before = (state.text, state.history, state.notes)
    let effects = apply(&state, action)
    if before != (state.text, state.history, state.notes) {
        state.restoreSwap = nil
        if let notice = state.notice?.text, notice.contains(swap.restoredNotice) || notice == swap.freshNotice { state.notice = nil }
    }
    return effects + followUps(&state)
}

/// Work that follows from the state whatever the action was: a scoring for a sentence no longer in the editor
/// is cancelled, and the compared models' current results are measured once both are there.
func followUps(_ state: inout WorkbenchState) -> [Effect] {
    var effects: [Effect] = []
    if let strip = state.likelihood, strip.isPending, strip.source != state.text {
        state.likelihood?.cancelled = true
        effects.append(.cancelScoring)
    }
    if let grid = state.importance, grid.isPending, grid.source != state.text {
        state.importance?.cancelled = true
        effects.append(.cancelImportance)
    }
    return effects + comparisonEffects(&state)
}

func apply(_ state: inout WorkbenchState, _ action: Action) -> [Effect] {
    switch action {
    case .opened:
        return requests(&state)

    case .textInserted(let text):
        state.editor.insert(text)
        return textChanged(&state)
    case .deletedBackward:
        state.editor.deleteBackward()
        return textChanged(&state)
    case .deletedForward:
        state.editor.deleteForward()
        return textChanged(&state)
    case .wordDeletedBackward:
        state.editor.deleteWordBackward()
        return textChanged(&state)
    case .lineCleared:
        state.editor.clear()
        return textChanged(&state)
    case .maskInserted:
        state.editor.insert("<mask>")
        state.focus = .editor
        return textChanged(&state)
    case .cursorMoved(let motion):
        switch motion {
        case .left: state.editor.moveLeft()
        case .right: state.editor.moveRight()
        case .home: state.editor.moveHome()
        case .end: state.editor.moveEnd()
        case .wordLeft: state.editor.moveWordLeft()
        case .wordRight: state.editor.moveWordRight()
        }
        return []

    case .historyStepped(let delta):
        guard !state.history.isEmpty else { return [] }
        if delta < 0 {
            if let index = state.historyIndex {
                state.historyIndex = max(0, index - 1)
            } else {
                state.draft = state.text
                state.historyIndex = state.history.count - 1
            }
        } else {
            guard let index = state.historyIndex else { return [] }
            state.historyIndex = index + 1 < state.history.count ? index + 1 : nil
        }
        state.editor.setText(state.historyIndex.map { state.history[$0] } ?? state.draft)
        return requests(&state)
    case .textSubmitted:
        remember(&state, state.text)
        state.notice = Notice("kept in the history (\(state.history.count) sentences)")
        return []

    case .focusCycled(let delta):
        let panes = Pane.allCases
        let index = panes.firstIndex(of: state.focus) ?? 0
        state.focus = panes[(index + delta % panes.count + panes.count) % panes.count]
        return []
    case .focusSet(let pane):
        state.focus = pane
        return []

    case .maskStepped(let delta):
        let count = state.analysis?.masks.count ?? 0
        state.selectedMask = clamp(state.selectedMask + delta, count)
        state.selectedCandidate = 0
        return []
    case .candidateStepped(let delta):
        let count = state.analysis.flatMap { a in a.masks.indices.contains(state.selectedMask) ? a.masks[state.selectedMask].candidates.count : nil } ?? 0
        state.selectedCandidate = clamp(state.selectedCandidate + delta, count)
        return []
    case .candidateAccepted:
        guard let analysis = state.analysis, analysis.masks.indices.contains(state.selectedMask) else {
            state.notice = Notice("no candidates to accept yet", isError: true)
            return []
        }
        guard analysis.text == state.text, !state.isUpdating(state.activeModel) else {
            state.notice = Notice("the candidates are being updated for the new text; try again in a moment", isError: true)
            return []
        }
        let mask = analysis.masks[state.selectedMask]
        guard mask.candidates.indices.contains(state.selectedCandidate) else { return [] }
        let candidate = mask.candidates[state.selectedCandidate]
        remember(&state, state.text)
        state.editor.replace(mask.span, with: candidate.text)
        state.notice = Notice("accepted \"\(visibleWhitespace(candidate.text))\"; the old sentence is in the history (Up)")
        state.selectedCandidate = 0
        state.historyIndex = nil
        return requests(&state)
    case .topKChanged(let delta):
        let k = max(1, min(50, state.topK + delta))
        guard k != state.topK else { return [] }
        state.topK = k
        state.notice = Notice("top-k: \(k)")
        return requests(&state)

    case .tokenStepped(let delta):
        state.selectedToken = clamp(state.selectedToken + delta, state.analysis?.tokens.count ?? 0)
        return []

    case .layerStepped(let delta):
        state.layer = clamp(state.layer + delta, state.model?.layers ?? 1)
        return []
    case .headStepped(let delta):
        if state.attentionMode == .mean { state.attentionMode = .head }
        state.head = clamp(state.head + delta, state.model?.heads ?? 1)
        return []
    case .attentionCursorMoved(let dq, let dk):
        let n = state.analysis?.tokens.count ?? 0
        state.query = clamp(state.query + dq, n)
        state.key = clamp(state.key + dk, n)
        return []
    case .attentionModeSet(let mode):
        state.attentionMode = mode
        return []
    case .attentionHeadOpened:
        state.attentionMode = .head
        return []
    case .zoomStepped(let delta):
        state.zoom = max(1, min(3, state.zoom + delta))
        return []
    case .headKnockoutToggled:
        guard let model = state.model else { return [] }
        let head = HeadRef(layer: clamp(state.layer, model.layers), head: clamp(state.head, model.heads))
        var heads = state.knockout
        if heads.remove(head) == nil { heads.insert(head) }
        state.knockouts[state.activeModel] = heads.isEmpty ? nil : heads
        state.notice = Notice(heads.isEmpty ? "all heads back in" : "knocked out: \(knockoutList(heads)) (X puts them back)")
        return requests(&state, onlyMissing: true)
    case .knockoutCleared:
        guard !state.knockout.isEmpty else {
            state.notice = Notice("no head is knocked out (x on the attention pane knocks out the selected one)")
            return []
        }
        state.knockouts[state.activeModel] = nil
        state.notice = Notice("all heads back in")
        return requests(&state, onlyMissing: true)
    case .importanceToggled:
        return importanceToggled(&state)
    case .importanceProgress(let id, let done):
        guard state.importance?.id == id, state.importance?.isPending == true else { return [] }
        state.importance?.layersDone = done
        return []
    case .importanceFinished(let id, let result):
        guard var grid = state.importance, grid.id == id, !grid.cancelled else { return [] }
        grid.result = result
        grid.layersDone = grid.layers
        state.importance = grid
        return []
    case .lensToggled:
        state.showLens.toggle()
        if state.focus != .editor { state.focus = .candidates }
        state.notice = Notice(state.showLens ? "lens: what each layer would fill in (F8 / l shows the candidates again)" : "candidates")
        return state.showLens ? requests(&state, onlyMissing: true) : []
    case .attentionValuesCycled:
        state.attentionValues = state.attentionValues.next
        if state.attentionValues == .rollout, state.attentionMode == .mean { state.attentionMode = .head }
        state.notice = Notice("attention: \(state.attentionValues.title)")
        return requests(&state, onlyMissing: true)

    case .headStatisticCycled:
        state.headStatistic = HeadStatistic.after(state.headStatistic)
        state.attentionMode = .overview
        if let statistic = state.headStatistic {
            state.notice = Notice("overview: \(statistic.title) per head (S: next statistic)")
        } else {
            state.notice = Notice("overview: the heads' maps")
        }
        return []

    case .modelSwitchRequested:
        guard state.models.count > 1 else {
            state.notice = Notice("only one model is loaded; F5 (M outside the editor) lists the others, or start with --model A --model B", isError: true)
            return []
        }
        state.activeModel = (state.activeModel + 1) % state.models.count
        clampToModel(&state)
        state.notice = Notice("model: \(state.models[state.activeModel].name)")
        return requests(&state, onlyMissing: true)
    case .pickerToggled:
        if state.pickerSelection != nil {
            state.pickerSelection = nil
        } else {
            state.showHelp = false
            state.pickerSelection = state.pickerRows.firstIndex(of: .loaded(state.activeModel)) ?? 0
        }
        return []
    case .pickerStepped(let delta):
        guard let selection = state.pickerSelection else { return [] }
        state.pickerSelection = clamp(selection + delta, state.pickerRows.count)
        return []
    case .pickerChosen:
        let rows = state.pickerRows
        guard let selection = state.pickerSelection, rows.indices.contains(selection) else { return [] }
        switch rows[selection] {
        case .loaded(let index):
            state.pickerSelection = nil
            guard index != state.activeModel else {
                state.notice = Notice("model: \(state.models[index].name) (already active)")
                return []
            }
            state.activeModel = index
            clampToModel(&state)
            state.notice = Notice("model: \(state.models[index].name)")
            return requests(&state, onlyMissing: true)
        case .found(let index):
            let entry = state.catalog[index]
            if let problem = entry.problem {
                state.notice = Notice("cannot load \(entry.name): \(problem)", isError: true)
                return []
            }
            if let loading = state.loadingModel {
                state.notice = Notice("still loading \(loading)…; pick again when it is done", isError: true)
                return []
            }
            guard let directory = entry.directory else { return [] }
            state.pickerSelection = nil
            state.loadingModel = entry.name
            state.notice = Notice("loading \(entry.name)…")
            return [.loadModel(ModelLoadRequest(name: entry.name, directory: directory))]
        case .pullable(let index):
            let entry = state.catalog[index]
            let command = entry.pullCommand ?? "maskscope pull \(entry.name)"
            state.notice = Notice("\(entry.name) is not downloaded yet; get it with: \(command)")
            return []
        }
    case .modelLoaded(let info, let index):
        state.loadingModel = nil
        guard index == state.models.count else {
            state.notice = Notice("loaded \(info.name), but the model list is out of step; restart the workbench to use it", isError: true)
            return []
        }
        state.models.append(info)
        state.activeModel = index
        clampToModel(&state)
        state.notice = Notice("loaded \(info.name) (\(info.layers) layers, \(info.heads) heads); now active")
        return requests(&state, onlyMissing: true)
    case .modelLoadFailed(let name, let message):
        state.loadingModel = nil
        state.notice = Notice("cannot load \(name): \(message)", isError: true)
        return []

    case .notesOpened:
        state.showHelp = false
        state.pickerSelection = nil
        state.notesEditor = LineEditor(state.notes)
        return []
    case .notesEdited(let edit):
        state.notesEditor?.apply(edit)
        return []
    case .notesConfirmed:
        guard let editor = state.notesEditor else { return [] }
        state.notesEditor = nil
        let note = trimmed(editor.text)
        let had = !state.notes.isEmpty
        state.notes = note
        state.notice = Notice(note.isEmpty ? (had ? "note removed" : "no note") : "note kept; Ctrl-S (s) saves it with the session")
        return []
    case .notesCancelled:
        state.notesEditor = nil
        state.notice = Notice("note unchanged")
        return []

    case .compareToggled:
        guard state.models.count > 1 else {
            state.notice = Notice("compare needs two models; start with --model DIR --model DIR", isError: true)
            return []
        }
        state.compare.toggle()
        state.notice = Notice(state.compare ? "comparing \(state.models[state.activeModel].name) with \(state.models[state.comparedModel ?? 0].name)" : "compare off")
        return state.compare ? requests(&state, onlyMissing: true) : []
    case .likelihoodToggled:
        return likelihoodToggled(&state)
    case .themeCycled:
        guard !state.themes.isEmpty else { return [] }
        let index = state.themes.firstIndex(of: state.theme) ?? -1
        state.theme = state.themes[(index + 1) % state.themes.count]
        state.notice = Notice("theme: \(state.theme)")
        return []
    case .helpToggled:
        state.showHelp.toggle()
        state.helpScroll = 0
        return []
    case .helpScrolled(let delta):
        state.helpScroll = max(0, min(Keymap.bindings.count, state.helpScroll + delta))
        return []

    case .sessionSaveRequested:
        return [.saveSession(state.session, path: state.sessionPath)]
    case .sessionSaved(let path):
        state.sessionPath = path
        state.notice = Notice("session saved to \(path)")
        return []
    case .sessionSaveFailed(let message):
        state.notice = Notice(message, isError: true)
        return []
    case .quitRequested:
        state.quitRequested = true
        return [.quit]
    case .restoreToggled:
        guard var swap = state.restoreSwap else {
            state.notice = Notice("nothing to undo: Ctrl-Z only swaps the work restored at start for a fresh start, before you change it")
            return []
        }
        let current = state.session, currentPath = state.sessionPath
        state.restore(swap.other)
        state.sessionPath = swap.otherSessionPath
        state.historyIndex = nil
        swap.other = current
        swap.otherSessionPath = currentPath
        swap.showingRestored.toggle()
        state.notice = Notice(swap.showingRestored ? swap.restoredNotice : swap.freshNotice)
        state.restoreSwap = swap
        return requests(&state)
    case .autosaveFailed(let message):
        state.notice = Notice(message, isError: true)
        return []
    case .figureExportRequested:
        return figureExportRequested(&state)
    case .exportFormatCycled:
        let all = FigureFormat.allCases
        state.exportFormat = all[((all.firstIndex(of: state.exportFormat) ?? 0) + 1) % all.count]
        state.notice = Notice("F9 (w) writes figures as \(state.exportFormat.rawValue) (W: next format)")
        return []
    case .figureExported(let path):
        state.notice = Notice("wrote \(path)")
        return []
    case .figureExportFailed(let message):
        state.notice = Notice(message, isError: true)
        return []

    case .inferenceFinished(let id, let model, let analysis):
        guard state.latestRequest[model] == id else { return [] }
        state.results[model] = analysis
        state.shownRequest[model] = id
        if model == state.activeModel { clampSelections(&state) }
        return []
    case .scoreFinished(let id, let model, let score):
        guard let strip = state.likelihood, let i = strip.requests.firstIndex(of: id), strip.models[i] == model else { return [] }
        state.likelihood?.scores[i] = score
        return []
    case .comparisonFinished(let result):
        guard result.id == state.latestComparison else { return [] }
        state.comparison = result
        return []
    }
}

/// `text` without leading and trailing whitespace.
func trimmed(_ text: String) -> String {
    var s = Substring(text)
    while s.first?.isWhitespace == true { s.removeFirst() }
    while s.last?.isWhitespace == true { s.removeLast() }
    return String(s)
}

/// Index `value` kept inside 0..<count (0 when empty).
func clamp(_ value: Int, _ count: Int) -> Int { max(0, min(count - 1, value)) }

/// Adds a text to the history unless it is empty or the same as the last one.
func remember(_ state: inout WorkbenchState, _ text: String) {
    guard text.contains(where: { !$0.isWhitespace }), state.history.last != text else { return }
    state.history.append(text)
}

func textChanged(_ state: inout WorkbenchState) -> [Effect] {
    state.historyIndex = nil
    if state.notice?.isError == true { state.notice = nil }
    return requests(&state)
}

/// New inference requests for the models on screen; with `onlyMissing`, only where the shown (or pending)
/// run is not for the current text and top-k.
func requests(_ state: inout WorkbenchState, onlyMissing: Bool = false) -> [Effect] {
    var models = [state.activeModel]
    if let other = state.comparedModel { models.append(other) }
    let compare = state.comparedModel != nil
    var effects: [Effect] = []
    for model in models where state.models.indices.contains(model) {
        // In compare mode a result also needs the logits at its masks, for the measures between the two models.
        let knockout = state.knockouts[model] ?? []
        let values = state.attentionValues
        if onlyMissing, let shown = state.results[model], shown.text == state.text, !state.isUpdating(model),
           (shown.masks.allSatisfy({ $0.candidates.count == state.topK }) && (!compare || shown.maskLogits != nil)
            && shown.knockout == knockout && (shown.attention == nil || shown.maps(values) != nil)
            && (!state.showLens || shown.lens != nil)) || shown.error != nil {
            continue
        }
        let id = state.nextRequestID
        state.nextRequestID += 1
        state.latestRequest[model] = id
        effects.append(.runInference(InferenceRequest(id: id, model: model, text: state.text, topK: state.topK, maskLogits: compare,
                                                                  knockout: knockout, values: values, lens: state.showLens)))
    }
    return effects
}

func clampToModel(_ state: inout WorkbenchState) {
    state.layer = clamp(state.layer, state.model?.layers ?? 1)
    state.head = clamp(state.head, state.model?.heads ?? 1)
    clampSelections(&state)
}

func clampSelections(_ state: inout WorkbenchState) {
    guard let analysis = state.analysis else { return }
    state.selectedMask = clamp(state.selectedMask, analysis.masks.count)
    let candidates = analysis.masks.indices.contains(state.selectedMask) ? analysis.masks[state.selectedMask].candidates.count : 0
    state.selectedCandidate = clamp(state.selectedCandidate, candidates)
    state.selectedToken = clamp(state.selectedToken, analysis.tokens.count)
    state.query = clamp(state.query, analysis.tokens.count)
    state.key = clamp(state.key, analysis.tokens.count)
}
