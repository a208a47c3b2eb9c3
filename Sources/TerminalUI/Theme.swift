import Foundation
import Workbench

/// The colour of every role the panes draw with, read from themes/NAME.json.
///
/// A colour is "#rrggbb" or "default" (the terminal's own). A `monochrome` theme draws with attributes
/// (bold, reverse, underline) and shade characters only, so it reads without colour and for every kind
/// of colour vision; it is also what NO_COLOR selects.
public struct Theme: Equatable, Sendable {
    public var name: String
    public var monochrome: Bool
    public var background: RGB?
    public var text: RGB?
    public var dim: RGB?
    public var accent: RGB?
    public var title: RGB?
    public var titleBackground: RGB?
    public var selection: RGB?
    public var selectionBackground: RGB?
    public var span: RGB?
    public var spanBackground: RGB?
    public var error: RGB?
    public var bar: RGB?
    public var barTrack: RGB?
    public var up: RGB?
    public var down: RGB?
    /// The heatmap ramp, lowest value first (at least two colours unless monochrome).
    public var heatmap: [RGB]

    /// Shade characters for monochrome heatmaps and bars, lightest first.
    public static let shades: [String] = [" ", "·", "░", "▒", "▓", "█"]

    // MARK: styles for the panes

    public var plain: Style { Style(fg: text, bg: background) }
    public var dimmed: Style { Style(fg: dim ?? text, bg: background) }
    public var accented: Style { Style(fg: accent, bg: background, bold: true) }
    public var errorStyle: Style { Style(fg: error, bg: background, bold: true) }
    public var focusedTitle: Style { monochrome ? Style(bold: true, reverse: true) : Style(fg: title, bg: titleBackground, bold: true) }
    public var unfocusedTitle: Style { Style(fg: accent, bg: background, bold: true, underline: monochrome) }
    public var selected: Style { monochrome ? Style(reverse: true) : Style(fg: selection, bg: selectionBackground, bold: true) }
    public var spanStyle: Style { monochrome ? Style(underline: true, reverse: true) : Style(fg: span, bg: spanBackground) }
    public var barStyle: Style { Style(fg: bar, bg: background) }
    public var trackStyle: Style { Style(fg: barTrack ?? dim, bg: background) }
    public var upStyle: Style { Style(fg: up, bg: background, bold: true) }
    public var downStyle: Style { Style(fg: down, bg: background, bold: true) }

    /// The ramp colour for a value in 0...1.
    public func rampColor(_ value: Double) -> RGB? {
        guard heatmap.count >= 2 else { return heatmap.first }
        let t = max(0, min(1, value.isFinite ? value : 0)) * Double(heatmap.count - 1)
        let i = min(heatmap.count - 2, Int(t))
        return heatmap[i].mixed(with: heatmap[i + 1], t - Double(i))
    }

    /// The shade character for a value in 0...1.
    public static func shade(_ value: Double) -> String {
        let v = max(0, min(1, value.isFinite ? value : 0))
        if v <= 0.02 { return shades[0] }
        return shades[min(shades.count - 1, 1 + Int(v * Double(shades.count - 1)))]
    }

    /// How a heatmap cell of `value` looks: a coloured block, or a shade character in monochrome.
    public func heatCell(_ value: Double) -> (text: String, style: Style) {
        if monochrome || heatmap.count < 2 { return (Theme.shade(value), plain) }
        return (" ", Style(fg: text, bg: rampColor(value)))
    }
}

extension Theme {
    /// The on-disk form: every colour a string.
    struct File: Codable {
        var name: String?
        var monochrome: Bool?
        var background, text, dim, accent, title, titleBackground, selection, selectionBackground: String?
        var span, spanBackground, error, bar, barTrack, up, down: String?
        var heatmap: [String]?
    }

    /// Decodes a theme from JSON; `name` is used when the file names none. Errors name `file` when given
    /// (the path it was read from), else the theme.
    public static func decode(_ data: Data, name: String, file path: String? = nil) throws -> Theme {
        let source = path.map { "theme file \($0)" } ?? "theme \(name)"
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw ThemeError.invalid(source: source, reason: JSONProblem.describe(error, in: data))
        }
        func color(_ value: String?, _ role: String) throws -> RGB? {
            guard let value, value != "default" else { return nil }
            guard let rgb = RGB(hex: value) else { throw ThemeError.badColor(source: source, role: role, value: value) }
            return rgb
        }
        let ramp = try (file.heatmap ?? []).enumerated().map { i, v -> RGB in
            guard let c = try color(v, "heatmap[\(i)]") else { throw ThemeError.badColor(source: source, role: "heatmap[\(i)]", value: v) }
            return c
        }
        let monochrome = file.monochrome ?? false
        if !monochrome, ramp.count < 2 {
            throw ThemeError.invalid(source: source, reason: "heatmap needs at least two colours (lowest first) unless \"monochrome\": true")
        }
        return Theme(
            name: file.name ?? name, monochrome: monochrome,
            background: try color(file.background, "background"), text: try color(file.text, "text"),
            dim: try color(file.dim, "dim"), accent: try color(file.accent, "accent"),
            title: try color(file.title, "title"), titleBackground: try color(file.titleBackground, "titleBackground"),
            selection: try color(file.selection, "selection"),
            selectionBackground: try color(file.selectionBackground, "selectionBackground"),
            span: try color(file.span, "span"), spanBackground: try color(file.spanBackground, "spanBackground"),
            error: try color(file.error, "error"), bar: try color(file.bar, "bar"), barTrack: try color(file.barTrack, "barTrack"),
            up: try color(file.up, "up"), down: try color(file.down, "down"), heatmap: ramp)
    }

    /// Every themes/*.json in `directory`, by name, sorted; the files that cannot be used are in `problems`,
    /// under the name the file gives the theme (its file name), with what is wrong with them.
    public static func loadAll(from directory: URL) -> (themes: [Theme], problems: [String: ThemeError]) {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var themes: [Theme] = []
        var problems: [String: ThemeError] = [:]
        for file in files.sorted() where file.hasSuffix(".json") {
            let name = String(file.dropLast(5))
            let path = directory.appendingPathComponent(file).path
            do {
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                    throw ThemeError.unreadable(file: path, reason: (error as NSError).localizedDescription)
                }
                themes.append(try decode(data, name: name, file: path))
            } catch let error as ThemeError {
                problems[name] = error
            } catch {
                problems[name] = .unreadable(file: path, reason: String(describing: error))
            }
        }
        return (themes, problems)
    }

    /// The monochrome theme built in, used for NO_COLOR, terminals without colour and when no theme file is found.
    public static let monochromeFallback = Theme(
        name: "mono", monochrome: true, background: nil, text: nil, dim: nil, accent: nil, title: nil,
        titleBackground: nil, selection: nil, selectionBackground: nil, span: nil, spanBackground: nil, error: nil,
        bar: nil, barTrack: nil, up: nil, down: nil, heatmap: [])
}

/// Why a theme file could not be used.
///
/// `source` is "theme file PATH" when the theme was read from a file, else "theme NAME".
public enum ThemeError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Not JSON, or JSON of the wrong shape.
    case invalid(source: String, reason: String)
    case badColor(source: String, role: String, value: String)
    case unreadable(file: String, reason: String)
    /// No file for the theme at all.
    case unknown(name: String, available: [String])

    public var description: String {
        switch self {
        case .invalid(let source, let reason): return "\(source): \(reason)"
        case .badColor(let source, let role, let value): return "\(source): \(role) is \"\(value)\"; use \"#rrggbb\" or \"default\""
        case .unreadable(let file, let reason): return "cannot read theme file \(file): \(reason)"
        case .unknown(let name, let available): return "no theme named \(name); available: \(available.joined(separator: ", "))"
        }
    }
}

extension Theme {
    /// The themes folder: $MASKSCOPE_THEMES, else ./themes, else the first themes/ found walking up from
    /// the executable (so a build under .build/ finds the repository's themes).
    public static func findDirectory(executable: URL) -> URL? {
        let environment = ProcessInfo.processInfo.environment["MASKSCOPE_THEMES"].map { URL(fileURLWithPath: $0) }
        var candidates = [environment, URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("themes")]
            .compactMap { $0 }
        var dir = executable.resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" && !dir.path.isEmpty {
            candidates.append(dir.appendingPathComponent("themes"))
            dir = dir.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("mono.json").path) }
    }
}

extension Theme {
    /// The themes a workbench can cycle through: only the built-in `mono` under NO_COLOR (or when no theme
    /// file loads), else every theme in the themes folder; and the theme files that cannot be used, by name.
    public static func available(noColor: Bool, executable: URL) -> (themes: [Theme], broken: [String: ThemeError]) {
        guard !noColor, let directory = findDirectory(executable: executable) else { return ([monochromeFallback], [:]) }
        let (found, broken) = loadAll(from: directory)
        return (found.isEmpty ? [monochromeFallback] : found, broken)
    }

    /// The theme to open with: `mono` under NO_COLOR; else `--theme` (`requested`: a name without a theme is
    /// an error, saying what is wrong with its file when it has a `broken` one), else the session's
    /// (`saved`; one that cannot be used is passed over, see `passedOver`), else `dark`, else the first.
    public static func choose(requested: String?, saved: String?, available: [String], broken: [String: ThemeError] = [:],
                              noColor: Bool) throws -> String {
        if noColor { return "mono" }
        if let requested {
            if available.contains(requested) { return requested }
            throw broken[requested] ?? ThemeError.unknown(name: requested, available: available)
        }
        if let saved, available.contains(saved) { return saved }
        return available.contains("dark") ? "dark" : (available.first ?? "mono")
    }

    /// A notice for when the session's theme could not be used because its file is broken: what is wrong
    /// with it, and which theme opened instead. Nil when the saved theme was used or has no file at all.
    public static func passedOver(saved: String?, chosen: String, broken: [String: ThemeError]) -> String? {
        guard let saved, saved != chosen, let problem = broken[saved] else { return nil }
        return "the session's theme \(saved) cannot be used (\(problem)); using \(chosen)"
    }
}
