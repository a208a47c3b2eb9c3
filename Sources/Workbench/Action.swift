/// Cursor movements in the sentence editor.
public enum CursorMotion: Equatable, Sendable {
    case left, right, home, end, wordLeft, wordRight
}

/// What the user did (or what came back from work the workbench started).
public enum Action: Equatable, Sendable {
    /// The workbench opened: run the first inference.
    case opened
    case textInserted(String)
    case deletedBackward
    case deletedForward
    case wordDeletedBackward
    case lineCleared
    case cursorMoved(CursorMotion)
    case maskInserted
    /// Up (-1) or Down (+1) through the sentence history.
    case historyStepped(Int)
    /// Enter in the editor: keep the text in the history.
    case textSubmitted

    case focusCycled(Int)
    case focusSet(Pane)

    case maskStepped(Int)
    case candidateStepped(Int)
    /// Put the selected candidate in place of its mask.
    case candidateAccepted
    case topKChanged(Int)

    case tokenStepped(Int)

    case layerStepped(Int)
    case headStepped(Int)
    case attentionCursorMoved(query: Int, key: Int)
    case attentionModeSet(AttentionMode)
    /// Enter on the overview: open the selected layer and head.
    case attentionHeadOpened
    case zoomStepped(Int)
    /// x: knock the selected layer and head out of the active model (or put it back).
    case headKnockoutToggled
    /// X: put every knocked-out head of the active model back.
    case knockoutCleared
    /// F8 / l: show the logit lens in the candidates pane, or the candidates again.
    case lensToggled
    /// g: measure the head-importance grid for the sentence, or close it.
    case importanceToggled
    /// A head-importance run finished `layersDone` layers; dropped unless `id` is the grid's.
    case importanceProgress(id: Int, layersDone: Int)
    /// A head-importance run came back; dropped unless `id` is the grid's.
    case importanceFinished(id: Int, result: ImportanceResult)
    /// v: weights → norms → rollout in the heatmap and the overview.
    case attentionValuesCycled
    /// S: the overview coloured by the heads' maps → entropy/max → to <s> → … → to punct → the maps again.
    case headStatisticCycled

    case modelSwitchRequested
    /// F5 / M: open or close the model picker.
    case pickerToggled
    case pickerStepped(Int)
    /// Enter in the picker: switch to, load, or say how to pull the selected model.
    case pickerChosen
    /// A background load ended; the model now sits at `index` in the runtime's list.
    case modelLoaded(ModelInfo, index: Int)
    case modelLoadFailed(name: String, message: String)

    /// n / F6: open the notes editor on the current notes.
    case notesOpened
    case notesEdited(LineEdit)
    /// Enter in the notes editor: keep the text as the session's notes.
    case notesConfirmed
    /// Esc in the notes editor: leave the notes as they were.
    case notesCancelled
    case compareToggled
    /// F7 / p: open the pseudo-log-likelihood strip and score the sentence; on a current strip, close it.
    case likelihoodToggled
    case themeCycled
    case helpToggled
    case helpScrolled(Int)
    case sessionSaveRequested
    case sessionSaved(path: String)
    case sessionSaveFailed(String)
    case quitRequested
    /// Ctrl-Z after the last work was restored at start: swap it for the fresh start (and back).
    case restoreToggled
    /// Writing the autosave failed (said once, until it works again).
    case autosaveFailed(String)
    /// F9 / w: write the figure of what the focused pane shows to exports/ (`Effect.exportFigure`).
    case figureExportRequested
    /// W: the next format F9 writes (svg → pdf → png → html → json → csv), kept with the session.
    case exportFormatCycled
    /// The figure was written to `path`.
    case figureExported(path: String)
    /// The figure could not be drawn or written; the message says why and what to do.
    case figureExportFailed(String)

    /// A background run ended; dropped unless `id` is the newest request for `model`.
    case inferenceFinished(id: Int, model: Int, analysis: Analysis)
    /// A model's pseudo-log-likelihood came back; dropped unless `id` is the strip's request for `model`.
    case scoreFinished(id: Int, model: Int, score: ModelScore)
    /// The measures between the compared models came back; dropped unless `result.id` is the latest asked for.
    case comparisonFinished(ComparisonResult)
}

/// Work the reducer asks the runtime to do; results come back as actions.
public enum Effect: Equatable, Sendable {
    case runInference(InferenceRequest)
    /// Score a sentence by pseudo-log-likelihood with one model; comes back as `.scoreFinished`.
    case scoreSentence(ScoreRequest)
    /// Drop the scorings not started yet and stop the one running (the sentence changed, or the strip closed).
    case cancelScoring
    /// Measure the teacher's distributions against the student's; comes back as `.comparisonFinished`.
    case compareDistributions(ComparisonRequest)
    /// Knock out each head alone and measure the change at the first mask; comes back as `.importanceFinished`,
    /// with `.importanceProgress` after each layer.
    case measureImportance(ImportanceRequest)
    /// Stop the head-importance run under way (the sentence changed, or the grid closed).
    case cancelImportance
    /// Write the session; `path` nil means a new file under sessions/.
    case saveSession(Session, path: String?)
    /// Load a model off the UI thread; the result comes back as `.modelLoaded` or `.modelLoadFailed`.
    case loadModel(ModelLoadRequest)
    /// Draw a figure and write it under exports/ off the reducer (`FigureExporter`); comes back as `.figureExported`
    /// or `.figureExportFailed`.
    case exportFigure(FigureExportRequest)
    case quit
}
