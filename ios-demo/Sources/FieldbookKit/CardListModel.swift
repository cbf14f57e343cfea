import Foundation
import Combine

/// 客户列表 with its search box: a search runs when typing pauses (an IME commits many
/// intermediate strings while composing Chinese), clearing shows the list at once, and
/// rows reload whenever the store changes.
@MainActor
public final class CardListModel: ObservableObject {
    @Published public var query = "" { didSet { schedule(delay: query.trimmingCharacters(in: .whitespaces).isEmpty ? .zero : debounce) } }
    @Published public var conflictedOnly = false { didSet { schedule(delay: .zero) } }
    @Published public private(set) var rows: [CardRow] = []
    @Published public private(set) var shownQuery: String?
    @Published public private(set) var message: UIMessage?

    private let session: FieldbookSession
    private let debounce: Duration
    private var pending: Task<Void, Never>?
    private var subscription: AnyCancellable?

    public init(session: FieldbookSession, debounce: Duration = .milliseconds(300)) {
        self.session = session
        self.debounce = debounce
        subscription = session.$revision.receive(on: DispatchQueue.main).sink { [weak self] _ in self?.schedule(delay: .zero) }
    }

    public func dismissMessage() { message = nil }

    private func schedule(delay: Duration) {
        pending?.cancel()
        let text = query.trimmingCharacters(in: .whitespaces)
        let conflicted = conflictedOnly
        pending = Task { [weak self, session] in
            if delay > .zero { try? await Task.sleep(for: delay) }
            guard !Task.isCancelled else { return }
            do {
                let found = try await session.read { book in
                    // `search` ranks by name only; a filter goes through `list`.
                    if !text.isEmpty && !conflicted { return try book.search(text: text, limit: 100) }
                    return try book.list(query: ListQuery(text: text.isEmpty ? nil : text, conflicted: conflicted, sort: .name, limit: 100))
                }
                guard !Task.isCancelled else { return }
                self?.rows = found
                self?.shownQuery = text
                self?.message = nil
            } catch {
                self?.message = uiMessage(for: error, schema: session.schema)
            }
        }
    }
}
