import SwiftUI
import FieldbookKit

/// Opens the one store (Keychain key, encrypted file in Application Support, excluded
/// from backups) off the main thread and hands it to the screens.
@MainActor
final class AppState: ObservableObject {
    enum Phase { case opening, ready(FieldbookSession), failed(String) }
    @Published var phase: Phase = .opening
    static let shared = AppState()

    var session: FieldbookSession? {
        if case let .ready(session) = phase { return session }
        return nil
    }

    func open() async {
        do {
            let session = try await Task.detached(priority: .userInitiated) { () throws -> FieldbookSession in
                var dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
                var values = URLResourceValues()
                values.isExcludedFromBackup = true
                try dir.setResourceValues(values)
                let book = try Fieldbook.open(path: dir.appendingPathComponent("cards.db").path, key: try KeychainKey.obtain())
                return FieldbookSession(book: book)
            }.value
            phase = .ready(session)
        } catch {
            phase = .failed(uiMessage(for: error).text)
        }
    }
}

@main
struct FieldbookDemoApp: App {
    @StateObject private var state = AppState.shared
    @Environment(\.scenePhase) private var scenePhase

    init() {
        BackgroundRefresh.register { await AppState.shared.session }
    }

    var body: some Scene {
        WindowGroup {
            Group {
                switch state.phase {
                case .opening: ProgressView("正在打开客户数据…")
                case let .failed(text): Text(text).padding()
                case let .ready(session): RootView(session: session)
                }
            }
            .task { await state.open() }
        }
        .onChange(of: scenePhase) { phase in
            // No connectivity trigger on iOS: sync on return to the foreground, and ask
            // for a background refresh when leaving it.
            guard let session = state.session else { return }
            if phase == .active { Task { _ = await BackgroundSync(session: session).runOnce() } }
            if phase == .background { BackgroundRefresh.schedule() }
        }
    }
}

/// Enrolment first, then the card list.
struct RootView: View {
    let session: FieldbookSession
    @StateObject private var sync: SyncModel
    @StateObject private var list: CardListModel

    init(session: FieldbookSession) {
        self.session = session
        _sync = StateObject(wrappedValue: SyncModel(session: session))
        _list = StateObject(wrappedValue: CardListModel(session: session))
    }

    var body: some View {
        if sync.enrolled {
            NavigationStack {
                CardListView(session: session, list: list, sync: sync)
            }
        } else {
            EnrolView(session: session)
        }
    }
}
