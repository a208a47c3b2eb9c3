import Workbench

/// A box over the screen listing every key, grouped by where it works; scrolls when it does not fit.
public enum HelpOverlay {
    /// The help text, one string per line.
    public static var lines: [String] {
        var lines: [String] = []
        var scope = ""
        let keyWidth = (Keymap.bindings.map { columnWidth($0.keys) }.max() ?? 10) + 2
        for binding in Keymap.bindings {
            if binding.scope != scope {
                if !lines.isEmpty { lines.append("") }
                lines.append(binding.scope)
                scope = binding.scope
            }
            lines.append("  " + padded(binding.keys, keyWidth) + binding.does)
        }
        return lines
    }

    public static func render(_ state: WorkbenchState, theme: Theme, in screen: Rect, into buffer: inout CellBuffer) {
        let lines = Self.lines
        let width = min(screen.width - 2, (lines.map(columnWidth).max() ?? 40) + 4)
        let height = min(screen.height - 2, lines.count + 3)
        let box = Rect(x: screen.x + (screen.width - width) / 2, y: screen.y + (screen.height - height) / 2, width: width, height: height)
        guard box.width >= 10, box.height >= 4 else { return }
        let frame = theme.accented
        buffer.fill(box, with: Cell(" ", theme.plain))
        let horizontal = String(repeating: "─", count: box.width - 2)
        buffer.put("┌" + horizontal + "┐", x: box.x, y: box.y, style: frame)
        buffer.put("└" + horizontal + "┘", x: box.x, y: box.maxY - 1, style: frame)
        for y in (box.y + 1)..<(box.maxY - 1) {
            buffer.put("│", x: box.x, y: y, style: frame)
            buffer.put("│", x: box.maxX - 1, y: y, style: frame)
        }
        buffer.put(" Keys ", x: box.x + 2, y: box.y, style: theme.focusedTitle)
        let rows = box.height - 3
        let first = max(0, min(state.helpScroll, lines.count - rows))
        for (i, line) in lines.dropFirst(first).prefix(rows).enumerated() {
            let isScope = !line.hasPrefix(" ") && !line.isEmpty
            buffer.put(line, x: box.x + 2, y: box.y + 1 + i, style: isScope ? theme.accented : theme.plain, maxWidth: box.width - 4)
        }
        let more = first + rows < lines.count ? "↓ more · " : (first > 0 ? "↑ more · " : "")
        buffer.put(rightAligned(more + "any other key closes", box.width - 4), x: box.x + 2, y: box.maxY - 2, style: theme.dimmed)
    }
}
