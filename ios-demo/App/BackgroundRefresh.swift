import BackgroundTasks
import FieldbookKit

/// Background sync on iOS: a `BGAppRefreshTask` the system runs when it judges fit
/// (battery, network, how often the rep opens the app): there is no "when connectivity
/// returns" trigger as on Android, so the app also syncs on every return to the
/// foreground. The identifier is listed in Info.plist (BGTaskSchedulerPermittedIdentifiers).
enum BackgroundRefresh {
    static let identifier = "fieldbook.demo.sync"

    /// Registers the handler; must run before the app finishes launching.
    static func register(session: @escaping @Sendable () async -> FieldbookSession?) {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { task in
            schedule()
            let work = Task {
                guard let session = await session() else { return task.setTaskCompleted(success: false) }
                switch await BackgroundSync(session: session).runOnce() {
                case .done: task.setTaskCompleted(success: true)
                case .retry, .stop: task.setTaskCompleted(success: false)
                }
            }
            // The system's deadline: stop before the next request; what was applied stays.
            task.expirationHandler = {
                Task { await session()?.book.cancelSync() }
                work.cancel()
            }
        }
    }

    /// Asks for the next refresh no earlier than in an hour.
    static func schedule() {
        let request = BGAppRefreshTaskRequest(identifier: identifier)
        request.earliestBeginDate = Date(timeIntervalSinceNow: 60 * 60)
        try? BGTaskScheduler.shared.submit(request)
    }
}
