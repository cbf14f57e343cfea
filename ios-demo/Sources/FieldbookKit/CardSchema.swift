import Foundation

/// The schema from `cardSchema()`, indexed for screens (see the Kotlin `CardSchema`).
public struct CardSchema: Sendable {
    public let fields: [FieldSpec]
    private let byPath: [String: FieldSpec]

    public init(fields: [FieldSpec]) {
        self.fields = fields
        self.byPath = Dictionary(fields.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Card-level fields (`territory`, `notes`, `basic.phone` …), in schema order.
    public var cardFields: [FieldSpec] { fields.filter { !$0.path.contains("*") } }

    public func itemFields(_ collection: String) -> [FieldSpec] {
        fields.filter { $0.path.hasPrefix("\(collection).*.") }
    }

    /// `basic.phone`, an item's `contacts.<id>.mobile`, or an error's `contacts.name`.
    public func spec(of path: String) -> FieldSpec? {
        if let spec = byPath[path] { return spec }
        let parts = path.split(separator: ".").map(String.init)
        switch parts.count {
        case 3: return byPath["\(parts[0]).*.\(parts[2])"]
        case 2: return byPath["\(parts[0]).*.\(parts[1])"]
        default: return nil
        }
    }

    public func label(of path: String) -> String {
        guard let spec = spec(of: path) else { return path }
        return spec.path.contains("*") ? "\(spec.sectionLabel)·\(spec.label)" : spec.label
    }

    /// What a change touched, for a history row (an item by its collection's label).
    public func area(of path: String) -> String {
        let root = String(path.split(separator: ".").first ?? "")
        if let item = fields.first(where: { $0.path.hasPrefix("\(root).*.") }) { return item.sectionLabel }
        if !path.contains(".") {
            return fields.first(where: { $0.path.hasPrefix("\(root).") })?.sectionLabel
                ?? byPath[root]?.label ?? ["sales": "月度销售", "tags": "标签"][root] ?? root
        }
        return spec(of: path)?.label ?? path
    }

    public func display(_ path: String, _ value: String) -> String {
        guard let spec = spec(of: path), spec.kind == .choice else { return value }
        return ChoiceOptions.shown(path: spec.path, code: value)
    }
}

public extension FieldSpec {
    /// The field's own key (`mobile` of `contacts.*.mobile`).
    var key: String { String(path.split(separator: ".").last ?? "") }
}
