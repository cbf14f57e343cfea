import Foundation

public enum BackgroundOutcome: Sendable {
    case done(SyncSummary)
    /// Worth another try later (no network, busy server): edits stay queued.
    case retry(UIMessage)
    /// Only the rep can fix it (enrol again, free space): retrying drains the battery.
    case stop(UIMessage)
}

/// One sync from a background refresh task, deciding by the error's kind what to tell
/// the scheduler (see the Kotlin `BackgroundSync`, tested on the JVM).
public struct BackgroundSync: Sendable {
    let session: FieldbookSession
    public init(session: FieldbookSession) { self.session = session }

    public func runOnce() async -> BackgroundOutcome {
        do {
            return .done(try await session.sync(listener: nil))
        } catch let error as FieldbookError {
            let message = uiMessage(for: error, schema: session.schema)
            switch error {
            case .Network, .Cancelled: return .retry(message)
            default: return .stop(message)
            }
        } catch {
            return .stop(uiMessage(for: error))
        }
    }
}
