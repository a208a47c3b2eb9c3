import JSONText
import RoBERTa

/// The pipeline's output for one text: a list of candidates, or a list of lists when there are several masks.
/// `limit` keeps only the first candidates of each list (a batch answered with a larger top_k than this text asked
/// for: the best k of a larger top-k are exactly the top k, since ties always go to the lower id).
public func pipelineJSON(_ result: FillMaskResult, limit: Int? = nil) -> JSONValue {
    let lists = result.masks.map { mask in
        JSONValue.array(mask.candidates.prefix(limit ?? mask.candidates.count).map { c in
            .object([("score", .float(c.score)), ("token", .int(c.token)),
                     ("token_str", .string(c.tokenStr)), ("sequence", .string(c.sequence))])
        })
    }
    return lists.count == 1 ? lists[0] : .array(lists)
}
