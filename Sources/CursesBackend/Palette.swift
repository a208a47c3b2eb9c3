import TerminalUI

/// Nearest colours on terminals that cannot show 24-bit colour.
public enum Palette {
    /// The xterm 256-colour number closest to `color` (the 6x6x6 cube or the grey ramp).
    public static func xterm256(_ color: RGB) -> Int {
        let levels = [0, 95, 135, 175, 215, 255]
        func nearestLevel(_ v: UInt8) -> Int {
            var best = 0
            for (i, level) in levels.enumerated() where abs(level - Int(v)) < abs(levels[best] - Int(v)) { best = i }
            return best
        }
        let r = nearestLevel(color.r), g = nearestLevel(color.g), b = nearestLevel(color.b)
        let cube = 16 + 36 * r + 6 * g + b
        let cubeError = distance(color, (levels[r], levels[g], levels[b]))
        let average = (Int(color.r) + Int(color.g) + Int(color.b)) / 3
        let greyIndex = max(0, min(23, (average - 8 + 5) / 10))
        let grey = 8 + greyIndex * 10
        return distance(color, (grey, grey, grey)) < cubeError ? 232 + greyIndex : cube
    }

    /// The closest of the eight ANSI colours.
    public static func ansi8(_ color: RGB) -> Int {
        let ansi = [(0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229)]
        var best = 0
        for (i, c) in ansi.enumerated() where distance(color, c) < distance(color, ansi[best]) { best = i }
        return best
    }

    static func distance(_ a: RGB, _ b: (Int, Int, Int)) -> Int {
        let dr = Int(a.r) - b.0, dg = Int(a.g) - b.1, db = Int(a.b) - b.2
        return dr * dr + dg * dg + db * db
    }
}
