import Foundation

public enum EditTarget: Hashable, Sendable {
    case newCard
    case card(String)
    case newItem(cardId: String, collection: String)
}

public enum Control: Sendable { case text, multiline, integer, decimal, signedDecimal, date, dateTime, toggle, picker }

public struct EditorField: Identifiable, Sendable {
    public var id: String { spec.path }
    public let spec: FieldSpec
    /// The path written, or an item's field key.
    public let target: String
    public let control: Control
    public let placeholder: String
    public let options: [ChoiceOption]
    public var original: String
    public var draft: String
    public var error: String?
    public var changed: Bool { draft != original }
}

public struct EditorSection: Identifiable, Sendable {
    public var id: String { label }
    public let label: String
    public let fields: [EditorField]
}

/// An editor built from `cardSchema()`: a control per field type, saving only the
/// changed fields as `FieldEdit`s in one change; the library's refusal shows under its field.
@MainActor
public final class EditorModel: ObservableObject {
    @Published public private(set) var fields: [EditorField] = []
    @Published public private(set) var saving = false
    @Published public private(set) var message: UIMessage?
    public let target: EditTarget
    private let session: FieldbookSession

    public init(session: FieldbookSession, target: EditTarget) {
        self.session = session
        self.target = target
    }

    public var sections: [EditorSection] {
        var order: [String] = []
        var grouped: [String: [EditorField]] = [:]
        for f in fields {
            if grouped[f.spec.sectionLabel] == nil { order.append(f.spec.sectionLabel) }
            grouped[f.spec.sectionLabel, default: []].append(f)
        }
        return order.map { EditorSection(label: $0, fields: grouped[$0] ?? []) }
    }

    public var hasChanges: Bool { fields.contains { $0.changed } }

    public func load() async {
        let schema = session.schema
        do {
            switch target {
            case .newCard:
                fields = schema.cardFields.map { field($0, $0.path, "") }
            case let .card(id):
                let card = try await session.read { try $0.card(cardId: id) }
                var values = Dictionary(card.sections.flatMap(\.fields).map { ($0.path, $0.value) }, uniquingKeysWith: { a, _ in a })
                values["territory"] = card.territory ?? ""
                values["notes"] = card.notes
                fields = schema.cardFields.map { field($0, $0.path, values[$0.path] ?? "") }
            case let .newItem(_, collection):
                fields = schema.itemFields(collection).map { field($0, $0.key, "") }
            }
        } catch {
            message = uiMessage(for: error, schema: schema)
        }
    }

    public func change(_ path: String, to text: String) {
        guard let i = fields.firstIndex(where: { $0.spec.path == path }) else { return }
        fields[i].draft = text
        fields[i].error = nil
    }

    /// Writes the changes; the id written, or nil when refused.
    public func save() async -> String? {
        saving = true
        defer { saving = false }
        let current = fields
        let changed = current.filter(\.changed).map { FieldEdit(path: $0.target, value: $0.draft) }
        let filled = current.filter { !$0.draft.isEmpty }.map { FieldEdit(path: $0.target, value: $0.draft) }
        do {
            let id: String
            switch target {
            case .newCard:
                id = try await session.write { try $0.createCard(fields: filled) }
            case let .card(cardId):
                if !changed.isEmpty { _ = try await session.write { try $0.updateCard(cardId: cardId, edits: changed) } }
                id = cardId
            case let .newItem(cardId, collection):
                id = try await session.write { try $0.addItem(cardId: cardId, collection: collection, fields: filled) }
            }
            for i in fields.indices { fields[i].original = fields[i].draft }
            message = nil
            return id
        } catch {
            let shown = uiMessage(for: error, schema: session.schema)
            // Named for card-level paths only; a new item's field error names none.
            if let path = shown.field.flatMap({ session.schema.spec(of: $0)?.path }),
               let i = fields.firstIndex(where: { $0.spec.path == path }) {
                fields[i].error = shown.text
            }
            message = shown
            return nil
        }
    }

    private func field(_ spec: FieldSpec, _ target: String, _ value: String) -> EditorField {
        let (control, placeholder): (Control, String) = switch spec.kind {
        case .text: (.text, "")
        case .longText: (.multiline, "")
        case .integer: (.integer, "整数")
        case .count: (.integer, "0")
        case .money: (.decimal, "元，例如 80000.00")
        case .date: (.date, "2026-12-01")
        case .timestamp: (.dateTime, "2026-12-01T09:30:00+08:00")
        case .latitude: (.signedDecimal, "30.2741")
        case .longitude: (.signedDecimal, "120.1551")
        case .dayOfMonth: (.integer, "1–31")
        case .bool: (.toggle, "")
        case .choice: (.picker, "请选择")
        }
        return EditorField(spec: spec, target: target, control: control, placeholder: placeholder,
                           options: spec.kind == .choice ? ChoiceOptions.forPath(spec.path) : [],
                           original: value, draft: value, error: nil)
    }
}
