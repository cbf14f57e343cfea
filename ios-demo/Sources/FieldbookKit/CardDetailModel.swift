import Foundation
import Combine

public struct ConflictChoice: Hashable, Sendable {
    public let value: String, display: String, rep: String?, device: String, time: Date?, shown: Bool
}

public struct ConflictField: Hashable, Sendable {
    public let path: String, label: String, choices: [ConflictChoice]
}

/// A customer's card by section, with the conflict banner (shown, never resolved silently).
@MainActor
public final class CardDetailModel: ObservableObject {
    @Published public private(set) var card: CardDetail?
    @Published public private(set) var banner: [ConflictField] = []
    @Published public private(set) var message: UIMessage?
    public let cardId: String
    private let session: FieldbookSession
    private var subscription: AnyCancellable?

    public init(session: FieldbookSession, cardId: String) {
        self.session = session
        self.cardId = cardId
        subscription = session.$revision.receive(on: DispatchQueue.main).sink { [weak self] _ in
            Task { await self?.load() }
        }
    }

    /// Sections with a value, as the card screen lists them.
    public var sections: [Section] { card?.sections.filter { !$0.fields.isEmpty } ?? [] }

    public func load() async {
        do {
            let id = cardId
            let loaded = try await session.read { try $0.card(cardId: id) }
            card = loaded
            let schema = session.schema
            banner = loaded.conflicts.map { c in
                ConflictField(path: c.path, label: schema.label(of: c.path), choices: c.values.map {
                    ConflictChoice(value: $0.value, display: schema.display(c.path, $0.value), rep: $0.rep, device: $0.device, time: $0.time, shown: $0.shown)
                })
            }
        } catch {
            message = uiMessage(for: error, schema: session.schema)
        }
    }

    /// Keep `value` for the conflicted field; the banner clears on the reload.
    @discardableResult
    public func resolve(path: String, value: String) async -> Bool {
        let id = cardId
        do {
            try await session.write { try $0.resolveConflict(cardId: id, path: path, value: value) }
            return true
        } catch {
            message = uiMessage(for: error, schema: session.schema)
            return false
        }
    }

    public func dismissMessage() { message = nil }
}
