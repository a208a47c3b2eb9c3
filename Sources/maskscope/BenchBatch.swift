import Foundation
import RoBERTa

/// `maskscope bench`'s batch case: a batch of sentences of mixed lengths through fill-mask in packed passes,
/// against the same sentences one call at a time. Scripts/bench_batch.py times transformers and ONNX Runtime on
/// the same sentences (Scripts/bench_batch_sentences.txt holds this list; a test keeps the two the same).
struct BatchMeasurement {
    let sentences: Int
    let tokens: Int
    /// Seconds per whole batch, sorted.
    let batchTimes: [Double]
    /// Seconds for the same sentences one fill-mask call at a time, sorted.
    let singleTimes: [Double]

    static let defaultSentences = [
        "The <mask> barked loudly.",
        "She drank a cup of <mask>.",
        "Paris is the <mask> of France.",
        "A week has seven <mask> in it.",
        "He opened the <mask> and walked into the room.",
        "The children played in the <mask> after school.",
        "Water freezes at zero degrees <mask> and boils at one hundred.",
        "I would like to <mask> a book about the history of the city.",
        "The function returns a new <mask> containing the items of the original sequence.",
        "A doctor works in a <mask>, where patients come to be examined and treated.",
        "The old lighthouse keeper climbed the <mask> every evening to light the lamp before the ships came in.",
        "When the file cannot be opened, the interpreter raises an <mask> that the caller may catch and handle.",
        "In the morning the farmer walks across the wet fields to feed the <mask> and to check the fences along the river.",
        "A dictionary maps each key to a value, and looking up a key that is not present raises a <mask> unless a default is given.",
        "The committee met on Tuesday to discuss the budget, but after three hours of argument nobody could agree on how much <mask> to spend.",
        "She had always wanted to travel, so when the letter finally arrived she packed a small bag, locked the door and took the first <mask> to the coast.",
        "The river rises in the mountains, flows through a narrow valley lined with pine forests and old mills, and reaches the <mask> after nearly three hundred miles.",
        "Before the invention of the printing press, books were copied by hand, which made them rare and expensive, and only monasteries and wealthy <mask> could afford to own them.",
        "A hacker, in the original sense of the word, is a person who enjoys exploring the details of programmable systems and how to stretch their <mask>, as opposed to most users.",
        "The garbage collector frees memory that is no longer reachable from the program, so objects that are still referenced somewhere stay alive, and a cycle of references is detected by a separate <mask>.",
        "When the storm reached the village late at night, the wind tore the roofs from several houses, the bridge over the stream was washed away, and the families gathered in the old stone <mask> until morning.",
        "The museum opens at nine in the morning and closes at five in the afternoon, except on Mondays, when it stays closed so that the staff can clean the galleries, repair the displays and prepare new <mask> for the visitors.",
        "Every module has its own namespace, so two modules may define functions with the same name without any conflict, and a program refers to them by writing the name of the <mask>, a dot, and the name of the function.",
        "The expedition set out in early spring with twelve men, six horses and enough food for four months, crossed the high pass before the snow melted, and reached the unknown <mask> on the far side of the range in June.",
        "An iterator is an object representing a stream of data; repeated calls to its next method return successive items, and when no more data are available a StopIteration exception is raised instead, which tells the <mask> loop to stop.",
        "The teacher explained that the experiment had failed not because the idea was wrong but because the instruments had been calibrated badly, and she asked the students to repeat every measurement with greater <mask> the following week.",
        "Long before the railway came, the town lived from the river trade: barges carried grain, timber and salt downstream to the port, and on the way back they brought cloth, tools, wine and news from the <mask> beyond the sea.",
        "A cynic is a blackguard whose faulty vision sees things as they are, not as they ought to be, and this is why the ancient Scythians plucked out a cynic's eyes to improve his <mask>, or so the old dictionary of the devil claims with a straight face.",
        "When a class defines the special method that is called for equality, it should usually define the hash method as well, because objects that compare equal must have the same hash value, otherwise they behave strangely as <mask> in dictionaries and as members of sets.",
        "The small orchestra rehearsed in a cold church hall twice a week, and although most of the players were amateurs who worked in shops, schools and offices during the day, their concert at the end of the winter filled every seat and the <mask> asked them to play again in the spring.",
        "After the long drought the farmers of the valley dug new wells, built a stone channel from the spring in the hills down to the fields, and agreed to share the water by turns, each family taking it for one day and one night, so that no <mask> would dry out before the harvest.",
        "The library keeps its rarest manuscripts in a room without windows, where the temperature and the humidity are held constant day and night, and a reader who wishes to see one must write a letter weeks in advance, wear cotton gloves, sit at the long table under the lamp, and turn the <mask> only with a thin wooden blade kept for that purpose."
    ]

    static func run(model: RobertaModel, sentences: [String], runs: Int, warmup: Int) throws -> BatchMeasurement {
        let tokens = try sentences.map { try model.inputIDs(for: $0).count }.reduce(0, +)
        var batchTimes: [Double] = [], singleTimes: [Double] = []
        for i in 0..<(warmup + runs) {
            let t0 = monotonicSeconds()
            _ = try model.fillMask(texts: sentences)
            let t1 = monotonicSeconds()
            for sentence in sentences { _ = try model.fillMask(sentence) }
            let t2 = monotonicSeconds()
            if i >= warmup {
                batchTimes.append(t1 - t0)
                singleTimes.append(t2 - t1)
            }
        }
        return BatchMeasurement(sentences: sentences.count, tokens: tokens, batchTimes: batchTimes.sorted(), singleTimes: singleTimes.sorted())
    }

    var sentencesPerSecond: Double { Double(sentences) / percentile(batchTimes, 0.5) }
    var bestSentencesPerSecond: Double { Double(sentences) / (batchTimes.first ?? .infinity) }
    var oneAtATimeSentencesPerSecond: Double { Double(sentences) / percentile(singleTimes, 0.5) }
}
