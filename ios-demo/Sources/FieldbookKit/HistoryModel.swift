import Foundation

public struct HistoryRow: Identifiable, Sendable {
    public var id: String { hash }
    public let hash: String, who: String, device: String, time: Date?
    public let labels: [String]
    public let paths: [String]
}

public struct FieldHistoryRow: Hashable, Sendable {
    public let who: String, device: String, time: Date?, value: String
}

/// 客户档案: every change newest first, attributed; and one field's values in turn.
@MainActor
public final class HistoryModel: ObservableObject {
    @Published public private(set) var rows: [HistoryRow] = []
    @Published public private(set) var fieldPath: String?
    @Published public private(set) var fieldRows: [FieldHistoryRow] = []
    @Published public private(set) var message: UIMessage?
    public let cardId: String
    private let session: FieldbookSession

    public init(session: FieldbookSession, cardId: String) {
        self.session = session
        self.cardId = cardId
    }

    public var fieldLabel: String? { fieldPath.map(session.schema.label(of:)) }

    public func load() async {
        let id = cardId
        let schema = session.schema
        do {
            let entries = try await session.read { try $0.history(cardId: id) }
            rows = entries.reversed().map { e in
                var seen = Set<String>()
                let labels = e.fields.map(schema.area(of:)).filter { seen.insert($0).inserted }
                return HistoryRow(hash: e.hash, who: e.rep ?? "（未知）", device: e.device, time: e.time, labels: labels, paths: e.fields)
            }
        } catch {
            message = uiMessage(for: error, schema: schema)
        }
    }

    public func openField(_ path: String) async {
        let id = cardId
        let schema = session.schema
        do {
            let changes = try await session.read { try $0.fieldHistory(cardId: id, path: path) }
            fieldPath = path
            fieldRows = changes.reversed().map {
                FieldHistoryRow(who: $0.entry.rep ?? "（未知）", device: $0.entry.device, time: $0.entry.time,
                                value: $0.value.map { schema.display(path, $0) } ?? "（已清空）")
            }
        } catch {
            message = uiMessage(for: error, schema: schema)
        }
    }

    public func closeField() { fieldPath = nil; fieldRows = [] }
}
