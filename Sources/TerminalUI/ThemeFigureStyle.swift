import Figures

extension FigureColor {
    /// A theme's colour as a figure's.
    public init(_ rgb: RGB) { self.init(rgb.r, rgb.g, rgb.b) }
}

extension Theme {
    /// The figure style of this theme (F9's exports and `export --style theme`): its background, text, bar and accent
    /// colours and its heatmap ramp; a monochrome theme (or one without a ramp) draws in grey scale.
    public var figureStyle: FigureStyle {
        if monochrome || heatmap.count < 2 { return .mono }
        return .theme(name: name, ramp: heatmap.map(FigureColor.init), background: background.map(FigureColor.init),
                      text: text.map(FigureColor.init), dim: dim.map(FigureColor.init), bar: bar.map(FigureColor.init),
                      secondBar: accent.map(FigureColor.init))
    }
}
