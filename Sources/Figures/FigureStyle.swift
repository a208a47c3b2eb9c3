import Foundation

/// Colours: an sRGB colour, the ramps, and the styles a figure can be drawn in.

/// An sRGB colour.
public struct FigureColor: Sendable, Hashable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// From 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(UInt8((hex >> 16) & 0xff), UInt8((hex >> 8) & 0xff), UInt8(hex & 0xff))
    }

    /// "#rrggbb".
    public var description: String {
        let digits = Array("0123456789abcdef")
        return "#" + [r, g, b].map { String([digits[Int($0 >> 4)], digits[Int($0 & 15)]]) }.joined()
    }

    /// The colour `t` (0…1) of the way to `other`.
    public func mixed(with other: FigureColor, _ t: Double) -> FigureColor {
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8(max(0, min(255, (Double(a) + (Double(b) - Double(a)) * t).rounded()))) }
        return FigureColor(mix(r, other.r), mix(g, other.g), mix(b, other.b))
    }

    /// Relative luminance (WCAG), 0 black … 1 white: decides dark or light text on a cell.
    public var luminance: Double {
        func channel(_ c: UInt8) -> Double {
            let v = Double(c) / 255
            return v <= 0.03928 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    }

    public static let white = FigureColor(255, 255, 255)
    public static let black = FigureColor(0, 0, 0)
}

/// What a figure is drawn with: the background, text and line colours, the ramp values are coloured from
/// (lowest first) and the colour of candidate bars. A figure is data plus a style: the same data renders in
/// every style and format.
public struct FigureStyle: Sendable, Equatable {
    /// "theme NAME", "print", "viridis", "cividis", "mono".
    public var name: String
    public var background: FigureColor
    public var text: FigureColor
    /// Secondary text, ticks, outlines.
    public var dim: FigureColor
    /// Candidate bars; the second model's in the compare view is `secondBar`.
    public var bar: FigureColor
    public var secondBar: FigureColor
    /// The heatmap ramp, lowest value first, at least two colours.
    public var ramp: [FigureColor]

    public init(name: String, background: FigureColor, text: FigureColor, dim: FigureColor, bar: FigureColor,
                secondBar: FigureColor, ramp: [FigureColor]) {
        self.name = name
        self.background = background
        self.text = text
        self.dim = dim
        self.bar = bar
        self.secondBar = secondBar
        self.ramp = ramp.count >= 2 ? ramp : [ramp.first ?? .white, ramp.first.map { $0.luminance > 0.5 ? .black : .white } ?? .black]
    }

    /// The colour of `t` in 0…1 (clamped; NaN is 0) along the ramp, linearly between its stops.
    public func color(at t: Double) -> FigureColor {
        let clamped = t.isNaN ? 0 : max(0, min(1, t))
        let position = clamped * Double(ramp.count - 1)
        let i = min(ramp.count - 2, Int(position))
        return ramp[i].mixed(with: ramp[i + 1], position - Double(i))
    }

    /// A workbench theme's colours (the caller reads them from themes/NAME.json): its background, text and ramp.
    /// Colours a theme leaves to the terminal ("default") are nil and fall back to a dark figure's.
    public static func theme(name: String, ramp: [FigureColor], background: FigureColor?, text: FigureColor?,
                             dim: FigureColor?, bar: FigureColor?, secondBar: FigureColor?) -> FigureStyle {
        let background = background ?? FigureColor(hex: 0x1d2026)
        let dark = background.luminance < 0.4
        return FigureStyle(
            name: "theme \(name)", background: background, text: text ?? (dark ? FigureColor(hex: 0xd8dee9) : .black),
            dim: dim ?? (dark ? FigureColor(hex: 0x7b8394) : FigureColor(hex: 0x666666)),
            bar: bar ?? FigureColor(hex: 0x4c72b0), secondBar: secondBar ?? FigureColor(hex: 0xdd8452),
            ramp: ramp.count >= 2 ? ramp : Ramps.viridis)
    }

    /// For print: white background, black text, the given ramp (a theme's, or viridis by default).
    public static func print(ramp: [FigureColor] = Ramps.viridis) -> FigureStyle {
        FigureStyle(name: "print", background: .white, text: .black, dim: FigureColor(hex: 0x555555),
                    bar: FigureColor(hex: 0x3b528b), secondBar: FigureColor(hex: 0xc8702a), ramp: ramp)
    }

    /// White background and matplotlib's viridis, perceptually uniform and colour-blind safe.
    public static let viridis = FigureStyle(
        name: "viridis", background: .white, text: .black, dim: FigureColor(hex: 0x555555),
        bar: FigureColor(hex: 0x3b528b), secondBar: FigureColor(hex: 0x5ec962), ramp: Ramps.viridis)

    /// White background and cividis (Nuñez et al. 2018), made to read the same with and without colour-vision deficiency.
    public static let cividis = FigureStyle(
        name: "cividis", background: .white, text: .black, dim: FigureColor(hex: 0x555555),
        bar: FigureColor(hex: 0x00224e), secondBar: FigureColor(hex: 0xc4b468), ramp: Ramps.cividis)

    /// Grey scale for black-and-white print: white (low) to black (high).
    public static let mono = FigureStyle(
        name: "mono", background: .white, text: .black, dim: FigureColor(hex: 0x555555),
        bar: FigureColor(hex: 0x404040), secondBar: FigureColor(hex: 0xa0a0a0),
        ramp: [.white, .black])
}

/// Colour ramps as tables of stops, lowest first.
public enum Ramps {
    /// matplotlib 3.11.2 `colormaps["viridis"](i / 32)` for i in 0…32, rounded to 8 bits (van der Walt & Smith).
    public static let viridis: [FigureColor] = [
        0x440154, 0x470d60, 0x48186a, 0x482374, 0x472d7b, 0x453781, 0x424086, 0x3e4989, 0x3b528b, 0x375b8d, 0x33638d,
        0x2f6b8e, 0x2c728e, 0x297a8e, 0x26828e, 0x23898e, 0x21918c, 0x1f988b, 0x1fa088, 0x22a785, 0x28ae80, 0x32b67a,
        0x3fbc73, 0x4ec36b, 0x5ec962, 0x70cf57, 0x84d44b, 0x98d83e, 0xaddc30, 0xc2df23, 0xd8e219, 0xece51b, 0xfde725,
    ].map(FigureColor.init(hex:))

    /// matplotlib 3.11.2 `colormaps["cividis"](i / 32)` for i in 0…32, rounded to 8 bits (Nuñez, Anderton & Renslow 2018).
    public static let cividis: [FigureColor] = [
        0x00224e, 0x00285b, 0x002e6a, 0x053371, 0x1a386f, 0x273e6e, 0x32436d, 0x3b496c, 0x434e6c, 0x4b546c, 0x535a6d,
        0x5a5f6e, 0x61656f, 0x686a71, 0x6f7073, 0x767676, 0x7d7c78, 0x848279, 0x8c8878, 0x938e78, 0x9b9476, 0xa39a74,
        0xaba072, 0xb4a76f, 0xbcae6c, 0xc4b468, 0xcdbb63, 0xd5c25e, 0xdec958, 0xe7d150, 0xf0d846, 0xf9e03a, 0xfee838,
    ].map(FigureColor.init(hex:))
}
