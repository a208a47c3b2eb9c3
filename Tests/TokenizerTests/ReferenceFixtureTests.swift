import Foundation
import XCTest

import Tokenizer

/// Byte-for-byte agreement with transformers 5.23 / tokenizers 0.23.3 as recorded by Scripts/make_fixtures.py.
final class ReferenceFixtureTests: XCTestCase {
    // MARK: tiny vocabulary (committed: must never skip)

    func testTinyFixtureSettingsMatchReference() throws {
        let reference = try ReferenceFile.load(Fixtures.tinyReference)
        ReferenceChecks.checkHeader(try Fixtures.tinyTokenizer(), reference)
    }

    func testTinyVocabEncodingsMatchReferenceIDsTokensAndOffsets() throws {
        let reference = try ReferenceFile.load(Fixtures.tinyReference)
        ReferenceChecks.checkEncodings(try Fixtures.tinyTokenizer(), reference)
    }

    func testTinyVocabDecodesMatchReference() throws {
        let reference = try ReferenceFile.load(Fixtures.tinyReference)
        ReferenceChecks.checkDecodes(try Fixtures.tinyTokenizer(), reference)
    }

    // MARK: real roberta-base vocabulary (skips when ../shared is absent)

    func testRealFixtureSettingsMatchReference() throws {
        let tokenizer = try Fixtures.realTokenizer()
        ReferenceChecks.checkHeader(tokenizer, try ReferenceFile.load(Fixtures.realReference))
    }

    func testRealVocabEncodingsMatchReferenceIDsTokensAndOffsets() throws {
        let tokenizer = try Fixtures.realTokenizer()
        ReferenceChecks.checkEncodings(tokenizer, try ReferenceFile.load(Fixtures.realReference))
    }

    func testRealVocabDecodesMatchReference() throws {
        let tokenizer = try Fixtures.realTokenizer()
        ReferenceChecks.checkDecodes(tokenizer, try ReferenceFile.load(Fixtures.realReference))
    }

    func testReferenceFilesRecordThePinnedVersions() throws {
        for url in [Fixtures.tinyReference, Fixtures.realReference] {
            let reference = try ReferenceFile.load(url)
            XCTAssertEqual(reference.versions.transformers, "5.23.0", url.lastPathComponent)
            XCTAssertEqual(reference.versions.tokenizers, "0.23.3", url.lastPathComponent)
        }
    }
}
