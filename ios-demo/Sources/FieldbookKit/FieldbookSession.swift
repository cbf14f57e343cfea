import Foundation
import Combine

/// The app's one open store, shared by every screen.
///
/// `revision` moves after every write and every sync, so a screen showing the store
/// reloads whatever changed it (another screen, the background refresh). Every call but
/// `sync` does disk I/O, so `read` and `write` run it off the main thread.
public final class FieldbookSession: @unchecked Sendable {
    public let book: Fieldbook
    public let schema: CardSchema
    @Published public private(set) var revision: Int = 0
    private let queue = DispatchQueue(label: "fieldbook.io", qos: .userInitiated, attributes: .concurrent)

    public init(book: Fieldbook) {
        self.book = book
        self.schema = CardSchema(fields: cardSchema())
    }

    public func read<T>(_ body: @escaping @Sendable (Fieldbook) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self.book) }) }
        }
    }

    /// A write; screens reload afterwards whether it succeeded or not.
    public func write<T>(_ body: @escaping @Sendable (Fieldbook) throws -> T) async throws -> T {
        defer { changed() }
        return try await read(body)
    }

    /// One sync on the library's own thread; what a failed sync applied stays, hence
    /// the reload in every case.
    public func sync(listener: SyncListener?) async throws -> SyncSummary {
        defer { changed() }
        return try await book.sync(listener: listener)
    }

    private func changed() {
        DispatchQueue.main.async { self.revision += 1 }
    }
}
