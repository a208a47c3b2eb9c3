import Workbench

/// A framed box drawn over the panes (help, model picker, notes editor).
enum Overlay {
    /// Clears `box`, draws its frame and title; returns the inside, one column of padding on each side.
    @discardableResult
    static func frame(_ title: String, theme: Theme, in box: Rect, into buffer: inout CellBuffer) -> Rect {
        let frame = theme.accented
        buffer.fill(box, with: Cell(" ", theme.plain))
        let horizontal = String(repeating: "─", count: max(0, box.width - 2))
        buffer.put("┌" + horizontal + "┐", x: box.x, y: box.y, style: frame)
        buffer.put("└" + horizontal + "┘", x: box.x, y: box.maxY - 1, style: frame)
        for y in (box.y + 1)..<max(box.y + 1, box.maxY - 1) {
            buffer.put("│", x: box.x, y: y, style: frame)
            buffer.put("│", x: box.maxX - 1, y: y, style: frame)
        }
        buffer.put(" \(title) ", x: box.x + 2, y: box.y, style: theme.focusedTitle, maxWidth: box.width - 4)
        return Rect(x: box.x + 2, y: box.y + 1, width: max(0, box.width - 4), height: max(0, box.height - 2))
    }
}

/// The notes editor: one line over the panes, the note being typed with its cursor.
public enum NotesOverlay {
    public static func render(_ state: WorkbenchState, theme: Theme, in screen: Rect, into buffer: inout CellBuffer) {
        guard let editor = state.notesEditor else { return }
        let width = min(screen.width - 2, 90)
        let box = Rect(x: screen.x + (screen.width - width) / 2, y: screen.y + max(1, (screen.height - 5) / 2), width: width, height: 5)
        guard box.width >= 20, box.maxY <= screen.maxY else { return }
        let inside = Overlay.frame("Note on this exploration", theme: theme, in: box, into: &buffer)
        buffer.put("›", x: inside.x, y: inside.y, style: theme.accented)
        let field = Rect(x: inside.x + 2, y: inside.y, width: inside.width - 2, height: 1)
        // Scroll horizontally so the cursor stays in the field.
        let widths = editor.scalars.map(columnWidth)
        let before = widths.prefix(editor.cursor).reduce(0, +)
        var skip = 0, skipped = 0
        while before - skipped > field.width - 1, skip < widths.count {
            skipped += widths[skip]
            skip += 1
        }
        var text = String.UnicodeScalarView()
        text.append(contentsOf: editor.scalars.dropFirst(skip))
        if editor.scalars.isEmpty {
            buffer.put("what this exploration is about, what you found…", x: field.x, y: field.y, style: theme.dimmed, maxWidth: field.width)
        } else {
            buffer.put(String(text), x: field.x, y: field.y, style: theme.plain, maxWidth: field.width)
        }
        if skip > 0 { buffer.put("…", x: inside.x, y: inside.y, style: theme.dimmed) }
        buffer.cursor = (field.x + before - skipped, field.y)
        let hint = "Enter keep · Esc cancel · saved with the session (Ctrl-S)"
        buffer.put(rightAligned(hint, inside.width), x: inside.x, y: inside.y + 2, style: theme.dimmed, maxWidth: inside.width)
    }
}

/// The model picker: the loaded models, the other models in the Hugging Face cache, and the known ones to
/// pull, with the exact command; the selected line's details at the bottom.
public enum ModelPicker {
    /// The picker's text lines, with the picker row each stands for (nil for headings).
    static func lines(_ state: WorkbenchState, width: Int) -> [(text: String, row: Int?, heading: Bool)] {
        let rows = state.pickerRows
        let names = rows.map { name(of: $0, in: state) }
        let nameWidth = min(24, max(12, names.map(columnWidth).max() ?? 12))
        var out: [(String, Int?, Bool)] = []
        var section = ""
        for (i, row) in rows.enumerated() {
            let (title, marker, entry, status): (String, String, CatalogModel?, String)
            switch row {
            case .loaded(let index):
                let active = index == state.activeModel
                let compared = index == state.comparedModel
                title = "Loaded"
                marker = active ? "●" : (compared ? "◆" : " ")
                entry = state.catalog.first { c in
                    (c.directory != nil && c.directory == state.models[index].directory) || c.name == state.models[index].path
                }
                status = active ? "active" : (compared ? "compared" : "loaded")
            case .found(let index):
                title = "In the Hugging Face cache"
                marker = " "
                entry = state.catalog[index]
                status = entry?.problem == nil ? (state.loadingModel == entry?.name ? "loading…" : "Enter loads it") : "cannot load"
            case .pullable(let index):
                title = "Not downloaded"
                marker = " "
                entry = state.catalog[index]
                status = entry?.pullCommand ?? "maskscope pull \(state.catalog[index].name)"
            }
            if title != section {
                let heading = title == "Loaded" ? padded(title, 2 + nameWidth) + "  layers  hidden      size" : title
                out.append((heading, nil, true))
                section = title
            }
            var layers = "", hidden = "", size = ""
            if case .loaded(let index) = row {
                layers = String(state.models[index].layers)
            }
            if let entry {
                if let l = entry.layers { layers = String(l) }
                if let h = entry.hiddenSize { hidden = String(h) }
                if let s = entry.size { size = s }
            }
            let line = marker + " " + padded(truncated(names[i], nameWidth), nameWidth) + "  " + rightAligned(layers, 6) + "  "
                + rightAligned(hidden, 6) + "  " + rightAligned(size, 8) + "  " + status
            out.append((line, i, false))
        }
        _ = width
        return out
    }

    static func name(of row: PickerRow, in state: WorkbenchState) -> String {
        switch row {
        case .loaded(let index): return state.models[index].name
        case .found(let index), .pullable(let index): return state.catalog[index].name
        }
    }

    /// What the selected line is and what Enter does with it, in full: two lines.
    static func detail(_ state: WorkbenchState) -> [String] {
        let rows = state.pickerRows
        guard let selection = state.pickerSelection, rows.indices.contains(selection) else { return [] }
        switch rows[selection] {
        case .loaded(let index):
            let info = state.models[index]
            let what = index == state.activeModel ? "the active model" : (index == state.comparedModel ? "compared; Enter makes it the active one" : "loaded; Enter switches to it")
            return ["\(info.name): \(what) · \(info.layers) layers, \(info.heads) heads", info.directory ?? info.path]
        case .found(let index):
            let entry = state.catalog[index]
            if let problem = entry.problem { return ["\(entry.name) cannot be loaded:", problem] }
            return ["Enter loads \(entry.name) (in the background; keep typing) from", entry.directory ?? ""]
        case .pullable(let index):
            let entry = state.catalog[index]
            return ["\(entry.name) is not downloaded; get it with:", entry.pullCommand ?? "maskscope pull \(entry.name)"]
        }
    }

    /// `text` cut at the front with "…" so that its end (a path's last folders) fits `width` columns.
    static func tail(_ text: String, _ width: Int) -> String {
        guard columnWidth(text) > width, width > 1 else { return text }
        var out = ""
        for c in text.reversed() {
            if columnWidth(String(c) + out) > width - 1 { break }
            out = String(c) + out
        }
        return "…" + out
    }

    public static func render(_ state: WorkbenchState, theme: Theme, in screen: Rect, into buffer: inout CellBuffer) {
        guard let selection = state.pickerSelection else { return }
        let width = min(screen.width, 110)
        let lines = Self.lines(state, width: width - 4)
        // Leave the status line below free: it says what happened (loading, errors, pull commands).
        let height = min(screen.height - 2, lines.count + 6)
        let box = Rect(x: screen.x + (screen.width - width) / 2, y: screen.y + max(0, (screen.height - 1 - height) / 2), width: width, height: height)
        guard box.width >= 20, box.height >= 6 else { return }
        let inside = Overlay.frame("Models", theme: theme, in: box, into: &buffer)
        let listRows = inside.height - 4
        let selectedLine = lines.firstIndex { $0.row == selection } ?? 0
        var first = 0
        if selectedLine >= listRows { first = selectedLine - listRows + 1 }
        if first > 0, lines[first].row != nil, selectedLine - first < listRows - 1, lines[first - 1].heading { first -= 1 }
        for (i, line) in lines.dropFirst(first).prefix(listRows).enumerated() {
            let y = inside.y + i
            if line.heading {
                buffer.put(line.text, x: inside.x, y: y, style: theme.accented, maxWidth: inside.width)
            } else if line.row == selection {
                buffer.fill(Rect(x: inside.x - 1, y: y, width: inside.width + 2, height: 1), with: Cell(" ", theme.selected))
                buffer.put("▸" + line.text, x: inside.x - 1, y: y, style: theme.selected, maxWidth: inside.width + 1)
            } else {
                let pullable = line.row.map { state.pickerRows[$0] }.map { if case .pullable = $0 { return true } else { return false } } ?? false
                buffer.put(line.text, x: inside.x, y: y, style: pullable ? theme.dimmed : theme.plain, maxWidth: inside.width)
            }
        }
        for (i, line) in detail(state).prefix(2).enumerated() {
            buffer.put(line.hasPrefix("/") ? tail(line, inside.width) : line, x: inside.x, y: inside.maxY - 3 + i, style: i == 0 ? theme.plain : theme.accented, maxWidth: inside.width)
        }
        let more = first + listRows < lines.count ? "↓ more · " : (first > 0 ? "↑ more · " : "")
        buffer.put(rightAligned(more + "↑↓ select · Enter choose · Esc close", inside.width), x: inside.x, y: inside.maxY - 1,
                   style: theme.dimmed, maxWidth: inside.width)
    }

    static func truncated(_ text: String, _ width: Int) -> String {
        guard columnWidth(text) > width else { return text }
        var out = ""
        for c in text {
            if columnWidth(out + String(c)) > width - 1 { break }
            out.append(c)
        }
        return out + "…"
    }

}
