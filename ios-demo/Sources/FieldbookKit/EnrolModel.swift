import Foundation

/// 登记本机: the server address and the one-time token from the manager.
@MainActor
public final class EnrolModel: ObservableObject {
    @Published public var serverUrl = ""
    @Published public var token = ""
    @Published public private(set) var enrolling = false
    @Published public private(set) var enrolment: Enrolment?
    @Published public private(set) var message: UIMessage?
    private let session: FieldbookSession

    public init(session: FieldbookSession) { self.session = session }

    @discardableResult
    public func enrol() async -> Enrolment? {
        enrolling = true
        defer { enrolling = false }
        let url = serverUrl.trimmingCharacters(in: .whitespacesAndNewlines)
        let oneTime = token.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            let done = try await session.write { try $0.enrol(serverUrl: url, token: oneTime) }
            enrolment = done
            token = ""
            message = nil
            return done
        } catch {
            message = uiMessage(for: error, schema: session.schema)
            return nil
        }
    }
}
