import Foundation
import Combine

/// The sync button, its progress and the last-sync line.
@MainActor
public final class SyncModel: ObservableObject {
    @Published public private(set) var enrolled = false
    @Published public private(set) var running = false
    @Published public private(set) var progress: SyncProgress?
    @Published public private(set) var lastSummary: SyncSummary?
    @Published public private(set) var lastSync: Date?
    @Published public private(set) var pendingCards: UInt64 = 0
    @Published public private(set) var message: UIMessage?
    private let session: FieldbookSession
    private var subscription: AnyCancellable?

    public init(session: FieldbookSession) {
        self.session = session
        subscription = session.$revision.receive(on: DispatchQueue.main).sink { [weak self] _ in
            Task { await self?.refreshStatus() }
        }
    }

    /// Progress arrives on the sync's own thread; it is handed to the main actor.
    private final class Listener: SyncListener, @unchecked Sendable {
        weak var model: SyncModel?
        init(_ model: SyncModel) { self.model = model }
        func onProgress(progress: SyncProgress) throws {
            Task { @MainActor [weak model] in model?.progress = progress }
        }
    }

    public func sync() async {
        guard !running else { return }
        running = true
        progress = nil
        message = nil
        defer { running = false }
        do {
            let summary = try await session.sync(listener: Listener(self))
            lastSummary = summary
            progress = summary.progress
        } catch {
            message = uiMessage(for: error, schema: session.schema)
        }
        await refreshStatus()
    }

    public func cancel() { session.book.cancelSync() }

    public var summaryText: String? {
        guard let s = lastSummary else { return nil }
        var parts = ["新客户 \(s.cardsNew) 张"]
        if s.newConflicts > 0 { parts.append("新冲突 \(s.newConflicts) 个") }
        if s.cardsRemoved > 0 { parts.append("移出 \(s.cardsRemoved) 张") }
        if !s.refused.isEmpty { parts.append("被拒绝 \(s.refused.count) 张") }
        if s.pendingCards > 0 { parts.append("待上传 \(s.pendingCards) 张") }
        return parts.joined(separator: " · ")
    }

    public var progressText: String? {
        progress.map { "已完成 \($0.requests) 次请求 · 上传 \($0.cardsPushed) 张 · 下载 \($0.cardsPulled) 张" }
    }

    public func dismissMessage() { message = nil }

    private func refreshStatus() async {
        do {
            let status = try await session.read { try $0.status() }
            enrolled = status.enrolled
            lastSync = status.lastSync
            pendingCards = status.pendingCards
        } catch {
            message = uiMessage(for: error, schema: session.schema)
        }
    }
}
