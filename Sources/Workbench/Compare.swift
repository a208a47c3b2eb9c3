import RoBERTa
import Scoring

/// How far apart the teacher's and the student's distributions are at one mask (issue #10), over the whole
/// vocabulary, or over the token strings the two vocabularies share when they differ. Natural logs.
///
/// The teacher is the first model of the compared pair: the active model, shown on the left.
public struct MaskMeasures: Equatable, Sendable {
    /// KL(teacher ‖ student) = Σ p ln(p / q), p the teacher's distribution, q the student's.
    public var kl: Double
    /// Jensen-Shannon divergence, (KL(p ‖ m) + KL(q ‖ m)) / 2 with m = (p + q) / 2; at most ln 2.
    public var js: Double
    /// Whether both models put the same token first.
    public var top1Agree: Bool
    /// |top-k(p) ∩ top-k(q)| / k.
    public var overlap: Double
    /// The k of the overlap and of the rank correlation.
    public var k: Int
    /// Spearman's ρ between the two models' rankings of the union of their top-k lists; nil when it is not
    /// defined (fewer than two ids, or a constant ranking).
    public var spearman: Double?
    /// How many ids the measures are over: the vocabulary, or the shared token strings.
    public var compared: Int

    public init(kl: Double, js: Double, top1Agree: Bool, overlap: Double, k: Int, spearman: Double?, compared: Int) {
        self.kl = kl
        self.js = js
        self.top1Agree = top1Agree
        self.overlap = overlap
        self.k = k
        self.spearman = spearman
        self.compared = compared
    }

    init(_ c: DistributionComparison) {
        self.init(kl: c.kl, js: c.js, top1Agree: c.top1Agree, overlap: c.overlap, k: c.k, spearman: c.spearman, compared: c.compared)
    }

    /// How many of the top-k lists' tokens the two share.
    public var shared: Int { Int((overlap * Double(k)).rounded()) }
}

/// Two vocabularies put side by side once per pair of models: the same strings under the same ids, or matched
/// by token string (Scoring's `VocabularyAlignment`) when the models do not share a tokenizer.
public struct VocabularyPair: Sendable {
    let alignment: VocabularyAlignment

    /// `teacherTokens[i]` is the teacher's string for id i (likewise the student's).
    public init(teacherTokens: [String], studentTokens: [String]) {
        alignment = VocabularyAlignment(firstTokens: teacherTokens, secondTokens: studentTokens)
    }

    /// The vocabularies of two loaded models.
    public init(teacher: RobertaModel, student: RobertaModel) {
        self.init(teacherTokens: Self.tokens(of: teacher), studentTokens: Self.tokens(of: student))
    }

    /// Whether the two vocabularies are the same strings under the same ids.
    public var identical: Bool { alignment.identical }
    /// How many token strings the measures are taken over.
    public var shared: Int { alignment.first.count }

    /// The measures at each mask matched by order (the n-th mask of the teacher's text with the n-th of the
    /// student's), from each model's logits over its whole vocabulary.
    public func measure(teacher: [[Float]], student: [[Float]], k: Int) -> [MaskMeasures] {
        zip(teacher, student).map { p, q in
            MaskMeasures(alignment.compare(LogDistribution(logits: p), LogDistribution(logits: q), k: k))
        }
    }

    /// A model's string for every id of its LM head; an id the tokenizer has no string for gets one no other
    /// token has, so it is never matched by accident.
    static func tokens(of model: RobertaModel) -> [String] {
        (0..<model.config.vocabSize).map { model.tokenizer.token(of: $0) ?? "\u{0}unused id \($0)" }
    }
}

/// Measure the teacher against the student at every mask of the current text: both runs' logits, off the UI thread.
public struct ComparisonRequest: Equatable, Sendable {
    public var id: Int
    /// Indices in `WorkbenchState.models`: the teacher is the active model, the student the compared one.
    public var teacher: Int
    public var student: Int
    /// The inference runs the logits came from: the result is current while both are the ones shown.
    public var teacherRun: Int
    public var studentRun: Int
    public var k: Int
    /// [mask][vocab] per model, in mask order.
    public var teacherLogits: [[Float]]
    public var studentLogits: [[Float]]

    public init(id: Int, teacher: Int, student: Int, teacherRun: Int, studentRun: Int, k: Int,
                teacherLogits: [[Float]], studentLogits: [[Float]]) {
        self.id = id
        self.teacher = teacher
        self.student = student
        self.teacherRun = teacherRun
        self.studentRun = studentRun
        self.k = k
        self.teacherLogits = teacherLogits
        self.studentLogits = studentLogits
    }
}

/// The measures of one comparison, with what they were taken over.
public struct ComparisonResult: Equatable, Sendable {
    public var id: Int
    public var teacher: Int
    public var student: Int
    public var teacherRun: Int
    public var studentRun: Int
    /// One per mask, matched by order; as many as the text with fewer masks has.
    public var masks: [MaskMeasures]
    /// How many masks each model's tokenization of the text has (they differ only when the tokenizers do).
    public var teacherMasks: Int
    public var studentMasks: Int
    /// Whether the models share a vocabulary (then the measures are over all of it).
    public var sharedVocabulary: Bool
    /// How many ids (or shared token strings) the measures are over.
    public var compared: Int

    public init(id: Int, teacher: Int, student: Int, teacherRun: Int, studentRun: Int, masks: [MaskMeasures],
                teacherMasks: Int, studentMasks: Int, sharedVocabulary: Bool, compared: Int) {
        self.id = id
        self.teacher = teacher
        self.student = student
        self.teacherRun = teacherRun
        self.studentRun = studentRun
        self.masks = masks
        self.teacherMasks = teacherMasks
        self.studentMasks = studentMasks
        self.sharedVocabulary = sharedVocabulary
        self.compared = compared
    }

    /// Answers `request` over `pair`.
    public init(_ request: ComparisonRequest, pair: VocabularyPair) {
        self.init(id: request.id, teacher: request.teacher, student: request.student, teacherRun: request.teacherRun,
                  studentRun: request.studentRun,
                  masks: pair.measure(teacher: request.teacherLogits, student: request.studentLogits, k: request.k),
                  teacherMasks: request.teacherLogits.count, studentMasks: request.studentLogits.count,
                  sharedVocabulary: pair.identical, compared: pair.shared)
    }
}

/// Which runs a comparison was asked for, so the same pair of results is measured once.
struct ComparisonKey: Equatable, Sendable {
    var teacher: Int, student: Int, teacherRun: Int, studentRun: Int, k: Int
}

extension WorkbenchState {
    /// The measures between the compared models for the results on screen, when they have been computed.
    public var measures: ComparisonResult? {
        guard let c = comparison, let student = comparedModel, c.teacher == activeModel, c.student == student,
              shownRequest[activeModel] == c.teacherRun, shownRequest[student] == c.studentRun else { return nil }
        return c
    }

    /// Whether measures for the results on screen are being computed.
    public var isMeasuring: Bool {
        guard let key = comparisonKey, let student = comparedModel else { return false }
        return key.teacher == activeModel && key.student == student && comparison?.id != latestComparison
    }
}

/// Asks for the measures when both compared models show a current result with logits that has not been
/// measured yet (after any action: a result arriving, F2 swapping the pair, compare turned on).
func comparisonEffects(_ state: inout WorkbenchState) -> [Effect] {
    guard let student = state.comparedModel else { return [] }
    let teacher = state.activeModel
    guard let t = state.results[teacher], let s = state.results[student], t.text == state.text, s.text == state.text,
          !state.isUpdating(teacher), !state.isUpdating(student),
          let tl = t.maskLogits, let sl = s.maskLogits, !tl.isEmpty, !sl.isEmpty,
          let tRun = state.shownRequest[teacher], let sRun = state.shownRequest[student] else { return [] }
    let key = ComparisonKey(teacher: teacher, student: student, teacherRun: tRun, studentRun: sRun, k: state.topK)
    guard state.comparisonKey != key else { return [] }
    state.comparisonKey = key
    let id = state.nextRequestID
    state.nextRequestID += 1
    state.latestComparison = id
    return [.compareDistributions(ComparisonRequest(id: id, teacher: teacher, student: student, teacherRun: tRun, studentRun: sRun,
                                                    k: state.topK, teacherLogits: tl, studentLogits: sl))]
}
