import Foundation
import XCTest
@testable import RoBERTa

/// NaN or infinity at a mask is an error naming its cause, never a score of NaN (which is not JSON).
final class NonFiniteResultTests: XCTestCase {
    let text = "Paris is the <mask> of France."

    /// The tiny model with element `index` of `tensor` set to `value` (and `edit` applied to other tensors).
    func model(setting tensor: String, index: Int, to value: Float) throws -> (RobertaModel, String) {
        try model { entries in
            let i = try XCTUnwrap(entries.firstIndex { $0.name == tensor })
            XCTAssertEqual(entries[i].dtype, "F32")
            entries[i].data.replaceSubrange((4 * index)..<(4 * index + 4), with: littleEndian(value.bitPattern))
        }
    }

    func model(_ edit: (inout [SafetensorsEntry]) throws -> Void) throws -> (RobertaModel, String) {
        let directory = try temporaryModelDirectory()
        var entries = try tinySafetensorsEntries()
        try edit(&entries)
        let weights = directory.appendingPathComponent("model.safetensors")
        try writeSafetensors(entries, to: weights)
        return (try RobertaModel.load(directory: directory), weights.path)
    }

    func testNaNInALayerWeightIsAnErrorNamingTheTensor() throws {
        let (model, file) = try model(setting: "roberta.encoder.layer.0.output.dense.bias", index: 3, to: .nan)
        XCTAssertThrowsError(try model.fillMask(text)) { error in
            guard case InferenceError.nonFiniteScores(let position, let weight) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(position, try? model.inputIDs(for: text).firstIndex(of: model.tokenizer.maskID))
            XCTAssertEqual(weight, NonFiniteWeight(tensor: "roberta.encoder.layer.0.output.dense.bias", file: file, index: 3, value: "NaN"))
            let message = "\(error)"
            XCTAssertTrue(message.contains("roberta.encoder.layer.0.output.dense.bias") && message.contains(file) && message.contains("NaN"), message)
        }
    }

    func testInfinityInTheLMHeadBiasIsAnErrorNamingTheTensor() throws {
        let (model, file) = try model(setting: "lm_head.bias", index: 5, to: .infinity)
        XCTAssertThrowsError(try model.fillMask(text, options: FillMaskOptions(targets: ["Paris"]))) { error in
            guard case InferenceError.nonFiniteScores(_, let weight) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(weight, NonFiniteWeight(tensor: "lm_head.bias", file: file, index: 5, value: "infinity"))
        }
    }

    func testNaNInAnF16TensorIsFoundToo() throws {
        let directory = try temporaryModelDirectory()
        var entries = try SafetensorsFile(path: Fixtures.model("tiny-f16").appendingPathComponent("model.safetensors").path)
            .tensors.values.sorted { $0.begin < $1.begin }
            .map { SafetensorsEntry(name: $0.name, dtype: $0.dtypeName, shape: $0.shape, data: [UInt8]($0.bytes)) }
        let i = try XCTUnwrap(entries.firstIndex { $0.name == "roberta.encoder.layer.1.attention.self.value.weight" })
        entries[i].data.replaceSubrange(14..<16, with: littleEndian(UInt16(0x7e00)))  // element 7: a float16 NaN
        let weights = directory.appendingPathComponent("model.safetensors")
        try writeSafetensors(entries, to: weights)
        let model = try RobertaModel.load(directory: directory)
        XCTAssertThrowsError(try model.fillMask(text)) { error in
            guard case InferenceError.nonFiniteScores(_, let weight) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(weight?.tensor, "roberta.encoder.layer.1.attention.self.value.weight")
            XCTAssertEqual(weight?.index, 7)
        }
    }

    func testOverflowWithFiniteWeightsSaysTheResultWasNotFinite() throws {
        // Every weight is finite, but a LayerNorm scale of 1e38 makes the decoder's sums overflow float32.
        let (model, _) = try model { entries in
            let i = try XCTUnwrap(entries.firstIndex { $0.name == "lm_head.layer_norm.weight" })
            entries[i].data = (0..<(entries[i].data.count / 4)).flatMap { _ in littleEndian(Float(1e38).bitPattern) }
        }
        XCTAssertThrowsError(try model.fillMask(text)) { error in
            guard case InferenceError.nonFiniteScores(_, nil) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue("\(error)".contains("every weight is finite"), "\(error)")
        }
    }

    func testFiniteModelStillAnswers() throws {
        let (model, _) = try model { _ in }
        let result = try model.fillMask(text)
        XCTAssertTrue(result.masks.allSatisfy { $0.candidates.allSatisfy { $0.score.isFinite && $0.logit.isFinite } })
    }
}
