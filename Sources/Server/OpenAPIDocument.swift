import JSONText
import Requests

/// GET /openapi.json: an OpenAPI 3.0 document of every route, written from the same settings the server enforces.
enum OpenAPIDocument {
    static func make(settings: ServerSettings, models: [String]) -> JSONValue {
        let secured = settings.apiKey != nil
        func ref(_ name: String) -> JSONValue { .object([("$ref", .string("#/components/schemas/\(name)"))]) }
        func jsonContent(_ schema: JSONValue) -> JSONValue { .object([("application/json", .object([("schema", schema)]))]) }
        func errorResponse(_ description: String) -> JSONValue {
            .object([("description", .string(description)), ("content", jsonContent(ref("Error")))])
        }
        func errors(_ codes: [(Int, String)]) -> [(String, JSONValue)] {
            var all = codes
            if secured { all.append((401, "No or wrong API key (Authorization: Bearer <key>)")) }
            return all.map { (String($0.0), errorResponse($0.1)) }
        }
        let fillMaskErrors = errors([
            (400, "Not JSON, or a field of the wrong type"),
            (404, "No model of that name"),
            (405, "Wrong method"),
            (413, "Body larger than \(settings.maxBodyBytes) bytes"),
            (422, "More than \(settings.maxInputs) inputs or \(settings.maxMasks) masks, a text without <mask>, too many tokens, top_k beyond \(settings.maxTopK), or no valid target"),
            (500, "The model could not answer (logged on the server)"),
            (503, "Queue full (Retry-After)"),
            (504, "No answer within \(shown(settings.timeoutMilliseconds)) ms"),
        ])
        let answer = JSONValue.object([
            ("description", .string("One list of candidates per text (a list of such lists for a text with several masks); a single text answers its list alone")),
            ("content", jsonContent(ref("FillMaskResponse"))),
        ])
        func fillMask(_ summary: String, parameters: [JSONValue]) -> JSONValue {
            .object([
                ("summary", .string(summary)),
                ("parameters", .array(parameters)),
                ("requestBody", .object([("required", .bool(true)), ("content", jsonContent(ref("FillMaskRequest")))])),
                ("responses", .object([("200", answer)] + fillMaskErrors)),
            ])
        }
        func get(_ summary: String, _ description: String, contentType: String = "application/json", schema: JSONValue,
                 open: Bool = false, extra: [(Int, String)] = []) -> JSONValue {
            var responses: [(String, JSONValue)] = [("200", .object([
                ("description", .string(description)),
                ("content", .object([(contentType, .object([("schema", schema)]))])),
            ]))]
            responses += (open ? extra.map { (String($0.0), errorResponse($0.1)) } : errors(extra))
            var operation: [(String, JSONValue)] = [("summary", .string(summary)), ("responses", .object(responses))]
            if open, secured { operation.append(("security", .array([]))) }
            return .object([("get", .object(operation))])
        }
        let modelNames = JSONValue.object([("type", .string("string")), ("enum", .array(models.map { .string($0) }))])
        let object = { (properties: [(String, JSONValue)], required: [String]) -> JSONValue in
            .object([("type", .string("object")), ("properties", .object(properties)),
                     ("required", .array(required.map { .string($0) }))])
        }
        let string = JSONValue.object([("type", .string("string"))])
        let integer = JSONValue.object([("type", .string("integer"))])
        let strings = JSONValue.object([("type", .string("array")), ("items", string)])
        // What the schema can say of a text: it holds <mask>; its length in tokens is checked by the server (422).
        let text = JSONValue.object([("type", .string("string")), ("pattern", .string("<mask>"))])
        let texts = JSONValue.object([("type", .string("array")), ("items", text), ("minItems", .int(1)),
                                      ("maxItems", .int(settings.maxInputs))])
        let word = JSONValue.object([("type", .string("string")), ("minLength", .int(1))])
        let words = JSONValue.object([("type", .string("array")), ("items", word), ("minItems", .int(1))])
        let candidate = object([("score", .object([("type", .string("number"))])), ("token", integer),
                                ("token_str", string), ("sequence", string)], ["score", "token", "token_str", "sequence"])
        let candidates = JSONValue.object([("type", .string("array")), ("items", ref("Candidate"))])
        let inputs = JSONValue.object([("oneOf", .array([
            text, texts,
            object([("input_string", .object([("oneOf", .array([text, texts]))]))], ["input_string"]),
        ]))])
        let parameters = JSONValue.object([("type", .string("object")), ("nullable", .bool(true)), ("properties", .object([
            ("top_k", .object([("type", .string("integer")), ("minimum", .int(1)), ("maximum", .int(settings.maxTopK)), ("default", .int(5))])),
            ("targets", .object([("oneOf", .array([word, words]))])),
            ("truncation", .object([("type", .string("boolean")), ("default", .bool(settings.truncateByDefault))])),
        ]))])
        var components: [(String, JSONValue)] = [("schemas", .object([
            ("FillMaskRequest", object([("inputs", inputs), ("parameters", parameters)], ["inputs"])),
            ("Candidate", candidate),
            ("FillMaskResponse", .object([("oneOf", .array([
                candidates,
                .object([("type", .string("array")), ("items", .object([("oneOf", .array([candidates,
                    .object([("type", .string("array")), ("items", candidates)])]))]))]),
            ]))])),
            ("Error", object([("error", string)], ["error"])),
        ]))]
        if secured {
            components.append(("securitySchemes", .object([("bearer", .object([("type", .string("http")), ("scheme", .string("bearer"))]))])))
        }
        let modelDescription = object([("name", string), ("model_type", string), ("layers", integer), ("heads", integer),
                                       ("hidden", integer), ("intermediate", integer), ("vocab_size", integer),
                                       ("max_tokens", integer), ("dtype", string)], ["name"])
        var document: [(String, JSONValue)] = [
            ("openapi", .string("3.0.3")),
            ("info", .object([("title", .string("MaskScope fill-mask endpoint")), ("version", .string("0.1.0")),
                              ("description", .string("RoBERTa fill-mask answered exactly as transformers' fill-mask pipeline answers it."))])),
            ("paths", .object([
                ("/score", .object([("post", fillMask(
                    "Fill-mask, the model cards' endpoint contract",
                    parameters: [
                        .object([("name", .string("azureml-model-deployment")), ("in", .string("header")), ("required", .bool(false)), ("schema", modelNames)]),
                        .object([("name", .string("model")), ("in", .string("query")), ("required", .bool(false)), ("schema", modelNames)]),
                    ]))])),
                ("/models/{name}", .object([("post", fillMask(
                    "Fill-mask, the Hugging Face Inference API's contract",
                    parameters: [.object([("name", .string("name")), ("in", .string("path")), ("required", .bool(true)), ("schema", modelNames)])]))])),
                ("/models", get("The models served", "Name and shape of each model",
                                schema: object([("models", .object([("type", .string("array")), ("items", modelDescription)]))], ["models"]))),
                ("/health", get("Liveness", "The process answers", schema: object([("status", string)], ["status"]), open: true)),
                ("/ready", get("Readiness", "Models loaded and taking requests", schema: object([("status", string), ("models", strings)], ["status"]),
                               extra: [(503, "Shutting down")])),
                ("/metrics", get("Prometheus metrics", "Prometheus text format", contentType: "text/plain", schema: string)),
                ("/openapi.json", get("This document", "OpenAPI 3.0", schema: .object([("type", .string("object"))]))),
            ])),
            ("components", .object(components)),
        ]
        if secured { document.append(("security", .array([.object([("bearer", .array([]))])]))) }
        return .object(document)
    }

    /// A number of milliseconds as written in flags: 30000, 2.5.
    static func shown(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
